// The `token` function's invoke payloads and replies. A payload is validated before any work: an unknown
// field or a malformed appid is a bad request that names the problem, never a silent component token.
import { BadRequestError } from '../../lib/kernel/errors.ts';
import type { JsapiConfig, JsapiRequest } from '../../lib/on-behalf/jsapi.ts';
import { pageUrl } from '../../lib/on-behalf/signature.ts';
import type { InvokeFailure } from '../../lib/runtime/invoke.ts';
import type { AuthorizerSummary } from '../../lib/store/authorizers.ts';
import { isAppId } from '../../lib/wechat/ids.ts';

export type TokenRequest =
  | { readonly kind: 'component' }
  | { readonly kind: 'authorizer'; readonly authorizerAppid: string }
  | { readonly kind: 'list'; readonly cursor?: string }
  | JsapiRequest;

export interface OperatorRow {
  readonly authorizerAppid: string;
  readonly status: string;
  readonly nickName: string | null;
  readonly userName: string | null;
  /** Epoch seconds; null when no live access token is stored. */
  readonly tokenExpiresAt: number | null;
  readonly funcInfo: number[];
}

export type TokenReply =
  | { readonly accessToken: string; readonly expiresAt: number }
  | { readonly authorizers: OperatorRow[]; readonly cursor?: string }
  | { readonly ticket: string; readonly expiresAt: number }
  | JsapiConfig
  | { readonly error: InvokeFailure };

/** The invoke payload is not one of the three shapes; `type` is what the caller receives. */
export class TokenRequestError extends BadRequestError {
  readonly type = 'bad_request';
}

const KNOWN_FIELDS = new Set(['authorizerAppid', 'list', 'cursor', 'ticket', 'jsapiSignature']);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** `{"authorizerAppid","ticket":"jsapi"}` or `{"authorizerAppid","jsapiSignature":{"url"}}` (docs/on-behalf.md). */
const parseJsapiRequest = (authorizerAppid: string, ticket: unknown, signature: unknown): JsapiRequest => {
  if (ticket !== undefined && signature !== undefined) throw new TokenRequestError('"ticket" and "jsapiSignature" are separate requests');
  if (ticket !== undefined) {
    if (ticket !== 'jsapi') throw new TokenRequestError('"ticket" must be "jsapi" (the JS-SDK ticket)');
    return { kind: 'jsapiTicket', authorizerAppid };
  }
  if (!isObject(signature) || Object.keys(signature).some((key) => key !== 'url')) {
    throw new TokenRequestError('"jsapiSignature" must be {"url":"<the page URL>"}');
  }
  try {
    return { kind: 'jsapiSignature', authorizerAppid, url: pageUrl(signature.url) };
  } catch (error) {
    throw new TokenRequestError((error as Error).message);
  }
};

/** `{}` (or no payload), `{"authorizerAppid":"wx…"}`, `{"list":true[,"cursor":"…"]}` or a JS-SDK request. */
export const parseTokenRequest = (event: unknown): TokenRequest => {
  if (event === undefined || event === null) return { kind: 'component' };
  if (!isObject(event)) throw new TokenRequestError('the payload must be a JSON object: {}, {"authorizerAppid":"wx…"} or {"list":true}');
  const unknown = Object.keys(event).filter((key) => !KNOWN_FIELDS.has(key));
  if (unknown.length > 0) throw new TokenRequestError(`unknown field(s): ${unknown.join(', ')}`);
  const { authorizerAppid, list, cursor, ticket, jsapiSignature } = event;
  if (list !== undefined) {
    if (list !== true || authorizerAppid !== undefined || ticket !== undefined || jsapiSignature !== undefined)
      throw new TokenRequestError('"list" must be true and stand alone (optionally with "cursor")');
    if (cursor !== undefined && (typeof cursor !== 'string' || cursor === ''))
      throw new TokenRequestError('"cursor" must be the string a previous page returned');
    return cursor ? { kind: 'list', cursor } : { kind: 'list' };
  }
  if (cursor !== undefined) throw new TokenRequestError('"cursor" is only valid with "list": true');
  const jsapi = ticket !== undefined || jsapiSignature !== undefined;
  if (authorizerAppid === undefined && !jsapi) return { kind: 'component' };
  if (typeof authorizerAppid !== 'string' || !isAppId(authorizerAppid)) {
    throw new TokenRequestError('"authorizerAppid" must be an appid: wx followed by 16 hex digits');
  }
  return jsapi ? parseJsapiRequest(authorizerAppid, ticket, jsapiSignature) : { kind: 'authorizer', authorizerAppid };
};

export const toOperatorRow = (a: AuthorizerSummary): OperatorRow => ({
  authorizerAppid: a.authorizerAppid,
  status: a.status,
  nickName: a.nickName ?? null,
  userName: a.userName ?? null,
  tokenExpiresAt: a.tokenExpiresAt ?? null,
  funcInfo: a.funcInfo,
});
