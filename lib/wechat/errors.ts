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

/** 45009 / 45011: a daily or per-minute API quota is used up. */
export const isRateLimited = (error: unknown): boolean => hasCode(error, [45009, 45011]);

/** 61005/61006: the component_verify_ticket is expired or invalid; wait for the next push or api_start_push_ticket. */
export const isTicketInvalid = (error: unknown): boolean => hasCode(error, [61005, 61006]);

/** 61023: the authorizer_refresh_token is wrong, missing or superseded by a re-authorization. */
export const isRefreshTokenInvalid = (error: unknown): boolean => hasCode(error, [61023]);

/** 61003: the account no longer authorizes this component: mark it unauthorized. */
export const isRevoked = (error: unknown): boolean => hasCode(error, [61003]);

// Mini-program code management (docs/fleet.md): what each WeChat answer of the template, commit, audit and
// release APIs means for a caller that will try again later. The client itself never retries these beyond -1.

/** 85009: this mini program already has a version under audit (one at a time); get_latest_auditstatus says whose. */
export const isAlreadyAuditing = (error: unknown): boolean => hasCode(error, [85009]);

/** 85085: the component's submit quota for the month is used up (queryquota `rest` 0); wait for it to return. */
export const isSubmitQuotaExhausted = (error: unknown): boolean => hasCode(error, [85085]);

/** 86000 not called on the account's behalf, 61007 permission set 18 not granted, 48001 api unauthorized: an owner or operator fix. */
export const isNotManagedByComponent = (error: unknown): boolean => hasCode(error, [86000, 61007, 48001]);

/** 61039: the privacy scan that follows a commit has not finished; submit again in about a minute. */
export const isPrivacyScanPending = (error: unknown): boolean => hasCode(error, [61039]);

/** 85052: this approved version is already released (a repeated release). */
export const isAlreadyReleased = (error: unknown): boolean => hasCode(error, [85052]);

/** 86001 nothing committed, 85012 unknown audit id: get_latest_auditstatus / get_auditstatus have nothing to report. */
export const isNoAudit = (error: unknown): boolean => hasCode(error, [86001, 85012]);

/**
 * What a rollout step does after a failed code-management call:
 * - `retry`: WeChat refused for now (busy, rate or concurrency limit, scan running, another audit running); the call
 *   did not take effect, so it is made again after `afterS`;
 * - `quota`: 85085, wait until queryquota reports quota again;
 * - `permanent`: WeChat refused the request itself (content, permissions, account state); repeating cannot help;
 * - `unknown`: no answer, or one that could not be read (timeout, reset, 5xx): the call may have taken effect, so
 *   WeChat's state is read before anything is repeated.
 */
export type CodeCallPolicy = { readonly kind: 'retry'; readonly afterS: number } | { readonly kind: 'quota' | 'permanent' | 'unknown' };

/** Seconds to wait before repeating a call WeChat refused for now, by errcode. */
const RETRY_AFTER_S: Readonly<Record<number, number>> = {
  [-1]: 60, // system busy (the client already retried twice)
  45009: 3600, // daily API quota: only clear_quota or the next day helps
  45011: 60, // minute quota
  9402202: 60, // too many concurrent commits
  61039: 60, // privacy scan after commit still running
  85009: 1800, // someone else's audit is running; audits take hours to days
  85086: 60, // commit not visible to submit_audit yet
  89401: 300, // speed-up: system unstable
};

export const codeCallPolicy = (error: unknown): CodeCallPolicy => {
  if (error instanceof WeChatApiError) {
    if (isSubmitQuotaExhausted(error)) return { kind: 'quota' };
    const afterS = RETRY_AFTER_S[error.errcode];
    return afterS === undefined ? { kind: 'permanent' } : { kind: 'retry', afterS };
  }
  if (error instanceof WeChatNetworkError) return { kind: 'unknown' };
  // A 4xx was refused before anything ran; an unreadable 200 or a 5xx may have done its work.
  if (error instanceof WeChatProtocolError)
    return (error.statusCode ?? 0) >= 400 && (error.statusCode ?? 0) < 500 ? { kind: 'permanent' } : { kind: 'unknown' };
  return { kind: 'unknown' };
};
