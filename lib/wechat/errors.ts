// Errors of the WeChat API client and the classifiers services branch on (docs/protocol.md §1.9).
// Deliberately free of undici so code that only classifies errors stays light to import.
import { AppError } from '../kernel/errors.ts';

/**
 * WeChat answered with a non-zero `errcode`. `errmsg` is kept verbatim, including its "rid: …" suffix,
 * which WeChat support asks for when investigating a call.
 * @see https://developers.weixin.qq.com/doc/oplatform/Return_codes/Return_code_descriptions_new.html
 */
export class WeChatApiError extends AppError {
  readonly api: string;
  readonly errcode: number;
  readonly errmsg: string;
  constructor(api: string, errcode: number, errmsg: string) {
    super(`${api} failed: errcode ${errcode}: ${errmsg}`);
    this.api = api;
    this.errcode = errcode;
    this.errmsg = errmsg;
  }
}

/** No answer from WeChat: connection failure or timeout, after the client's bounded retries. */
export class WeChatNetworkError extends AppError {
  readonly api: string;
  readonly timedOut: boolean;
  readonly attempts: number;
  constructor(api: string, attempts: number, options: ErrorOptions & { timedOut: boolean }) {
    super(`${api}: no answer from WeChat after ${attempts} attempt(s)${options.timedOut ? ' (timed out)' : ''}`, options);
    this.api = api;
    this.timedOut = options.timedOut;
    this.attempts = attempts;
  }
}

/**
 * WeChat (or something in front of it) answered, but not with what the API documents: a non-2xx status,
 * a body that is not a JSON object, or a success body without a required field. Never retried except 5xx.
 */
export class WeChatProtocolError extends AppError {
  readonly api: string;
  readonly reason: string;
  readonly statusCode: number | undefined;
  constructor(api: string, reason: string, statusCode?: number) {
    super(`${api}: unexpected response: ${reason}`);
    this.api = api;
    this.reason = reason;
    this.statusCode = statusCode;
  }
}

const hasCode = (error: unknown, codes: readonly number[]): boolean => error instanceof WeChatApiError && codes.includes(error.errcode);

/** 40001/40014/42001: the access token used was overwritten, invalid or expired; expire that token, refresh once. */
export const isTokenInvalid = (error: unknown): boolean => hasCode(error, [40001, 40014, 42001]);

/** 61005/61006: the component_verify_ticket is expired or invalid; wait for the next push or api_start_push_ticket. */
/** 45009 / 45011: a daily or per-minute API quota is used up. */
export const isRateLimited = (error: unknown): boolean => hasCode(error, [45009, 45011]);

export const isTicketInvalid = (error: unknown): boolean => hasCode(error, [61005, 61006]);

/** 61023: the authorizer_refresh_token is wrong, missing or superseded by a re-authorization. */
export const isRefreshTokenInvalid = (error: unknown): boolean => hasCode(error, [61023]);

/** 61003: the account no longer authorizes this component: mark it unauthorized. */
export const isRevoked = (error: unknown): boolean => hasCode(error, [61003]);
