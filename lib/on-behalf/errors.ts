// The expected failures of the on-behalf calls (docs/on-behalf.md). Each carries the stable `type` the caller
// receives in `{"error":{"type","message"}}` and, when WeChat said so, its errcode. They extend the token
// service's base so the `token` function answers them like its own (a malformed request is a BadRequestError,
// as operator actions expect); none ever contains a code or token.
import { BadRequestError } from '../kernel/errors.ts';
import { TokenServiceError } from '../tokens/errors.ts';

/** Base of the expected on-behalf failures. */
export abstract class OnBehalfError extends TokenServiceError {
  readonly errcode: number | undefined;
  constructor(message: string, options?: ErrorOptions & { errcode?: number }) {
    super(message, options);
    this.errcode = options?.errcode;
  }
}

/** The payload is malformed (an appid, a page URL, a scope…): nothing was called or written. */
export class OnBehalfRequestError extends BadRequestError {
  readonly type = 'bad_request';
}

/** 40029 / 40163: the js_code or OAuth code is spent, expired or was issued for another account. Never retried. */
export class InvalidCodeError extends OnBehalfError {
  readonly type = 'invalid_code';
}

/** 40030 / 42002: the web-OAuth refresh token is invalid or past its 30 days: the user authorizes the page again. */
export class InvalidRefreshTokenError extends OnBehalfError {
  readonly type = 'invalid_refresh_token';
}

/** The user access token given to userinfo is invalid or expired (refresh it; the component token is fine). */
export class InvalidUserTokenError extends OnBehalfError {
  readonly type = 'invalid_user_token';
}

/** 48001 on userinfo: the user token was granted with snsapi_base, which carries no profile. */
export class ScopeInsufficientError extends OnBehalfError {
  readonly type = 'scope_insufficient';
}

/** 45009: the account's daily quota for the API is used up. */
export class QuotaExceededError extends OnBehalfError {
  readonly type = 'quota_exceeded';
}
