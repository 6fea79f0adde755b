// The `login` function's invoke payloads and replies (docs/on-behalf.md). A payload is validated before any
// work: an unknown field, a malformed appid or an empty code is a bad request that names the problem (never
// the code itself: codes and tokens are secrets).
import { BadRequestError } from '../../lib/kernel/errors.ts';
import type { LoginAnswer, LoginRequest } from '../../lib/on-behalf/login.ts';
import { isAppId } from '../../lib/wechat/ids.ts';

export type LoginReply = LoginAnswer | { readonly error: { readonly type: string; readonly message: string; readonly errcode?: number } };

/** The invoke payload is not one of the four shapes; `type` is what the caller receives. */
export class LoginRequestError extends BadRequestError {
  readonly type = 'bad_request';
}

const SHAPES =
  '{"authorizerAppid","jsCode"}, {"authorizerAppid","oauthCode"}, {"authorizerAppid","oauthRefreshToken"} or {"authorizerAppid","userinfo":{"accessToken","openid"}}';
const REQUESTS = ['jsCode', 'oauthCode', 'oauthRefreshToken', 'userinfo'] as const;
/** Codes and tokens are printable, without spaces; nothing WeChat issues comes near this length. */
const CREDENTIAL = /^[\x21-\x7e]{1,512}$/;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const credential = (value: unknown, name: string): string => {
  if (typeof value !== 'string' || !CREDENTIAL.test(value)) throw new LoginRequestError(`"${name}" must be a non-empty string without spaces`);
  return value;
};

const userinfoRequest = (authorizerAppid: string, value: unknown): LoginRequest => {
  if (!isObject(value) || Object.keys(value).some((key) => key !== 'accessToken' && key !== 'openid')) {
    throw new LoginRequestError('"userinfo" must be {"accessToken","openid"} from an oauthCode or oauthRefreshToken answer');
  }
  return {
    kind: 'userinfo',
    authorizerAppid,
    accessToken: credential(value.accessToken, 'userinfo.accessToken'),
    openid: credential(value.openid, 'userinfo.openid'),
  };
};

/** One of the four requests, each with the account's appid. */
export const parseLoginRequest = (event: unknown): LoginRequest => {
  if (!isObject(event)) throw new LoginRequestError(`the payload must be a JSON object: ${SHAPES}`);
  const unknown = Object.keys(event).filter((key) => key !== 'authorizerAppid' && !(REQUESTS as readonly string[]).includes(key));
  if (unknown.length > 0) throw new LoginRequestError(`unknown field(s): ${unknown.join(', ')}`);
  const { authorizerAppid } = event;
  if (typeof authorizerAppid !== 'string' || !isAppId(authorizerAppid)) {
    throw new LoginRequestError('"authorizerAppid" must be the account\'s appid: wx followed by 16 hex digits');
  }
  const present = REQUESTS.filter((key) => event[key] !== undefined);
  if (present.length !== 1) throw new LoginRequestError(`exactly one request per payload: ${SHAPES}`);
  switch (present[0]) {
    case 'jsCode':
      return { kind: 'jsCode', authorizerAppid, jsCode: credential(event.jsCode, 'jsCode') };
    case 'oauthCode':
      return { kind: 'oauthCode', authorizerAppid, oauthCode: credential(event.oauthCode, 'oauthCode') };
    case 'oauthRefreshToken':
      return { kind: 'oauthRefreshToken', authorizerAppid, oauthRefreshToken: credential(event.oauthRefreshToken, 'oauthRefreshToken') };
    default:
      return userinfoRequest(authorizerAppid, event.userinfo);
  }
};
