// The typed failures of the token service. Each carries a stable `type` (what the `token` function returns
// to its caller) and a message that tells the operator what to do. None ever contains a token value.
import { ExpectedError } from '../kernel/errors.ts';
import { WeChatApiError } from '../wechat/errors.ts';
import type { LeaseFailure } from '../store/claims.ts';

/** Base of the expected, explainable token failures (as opposed to bugs and outages). */
export abstract class TokenServiceError extends ExpectedError {}

/** No live component_verify_ticket is stored, so no component token can be obtained. */
export class MissingTicketError extends TokenServiceError {
  readonly type = 'missing_ticket';
}

/** WeChat rejected the stored ticket (61005 expired / 61006 invalid). */
export class TicketInvalidError extends TokenServiceError {
  readonly type = 'ticket_invalid';
}

/** The account never authorized this component (no PROFILE). */
export class AuthorizerNotFoundError extends TokenServiceError {
  readonly type = 'not_found';
}

/** The account revoked its authorization (`unauthorized` push or 61003). */
export class AuthorizerUnauthorizedError extends TokenServiceError {
  readonly type = 'unauthorized';
}

/** The refresh token is beyond recovery (61023 after every fallback): the owner must authorize again. */
export class NeedsReauthError extends TokenServiceError {
  readonly type = 'needs_reauth';
}

/** Another caller has been refreshing for longer than this caller may wait. Retry shortly. */
export class TokenBusyError extends TokenServiceError {
  readonly type = 'busy';
}

/** Another caller's refresh just failed for a reason this caller cannot know more about. */
export class TokenRefreshFailedError extends TokenServiceError {
  readonly type = 'refresh_failed';
}

// Keyed by the stable `type`, never by class name: bundles are minified (names mangled, and differently per
// function), and the failure may be recorded by the refresh function and read by the token function.
const TYPED: Record<string, new (message: string) => TokenServiceError> = {
  missing_ticket: MissingTicketError,
  ticket_invalid: TicketInvalidError,
  not_found: AuthorizerNotFoundError,
  unauthorized: AuthorizerUnauthorizedError,
  needs_reauth: NeedsReauthError,
};

const WECHAT_API_ERROR = 'wechat_api_error';

/** What a failed lease holder records for its waiting followers (store/claims.ts). */
export const failureOf = (error: unknown, failedAt: number): LeaseFailure => {
  if (error instanceof WeChatApiError) {
    return { name: WECHAT_API_ERROR, message: error.errmsg, errcode: error.errcode, api: error.api, failedAt };
  }
  if (error instanceof TokenServiceError) return { name: error.type, message: error.message, failedAt };
  const e = error instanceof Error ? error : new Error(String(error));
  return { name: e.name, message: e.message, failedAt };
};

/** The error a follower throws for its holder's failure: the same class when it is one we know. */
export const reviveFailure = (what: string, failure: LeaseFailure): Error => {
  if (failure.name === WECHAT_API_ERROR && failure.errcode !== undefined) {
    return new WeChatApiError(failure.api ?? 'unknown', failure.errcode, failure.message);
  }
  const Typed = TYPED[failure.name];
  if (Typed) return new Typed(failure.message);
  return new TokenRefreshFailedError(`refreshing ${what} failed in another caller: ${failure.name}: ${failure.message}`);
};
