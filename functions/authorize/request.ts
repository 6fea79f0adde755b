// The authorize function's query parameters: the start page's `auth_type` / `biz_appid` and the `auth_code` /
// `expires_in` WeChat appends to the landing page's redirect_uri.
import { BadRequestError } from '../../lib/kernel/errors.ts';
import type { StartRequest } from '../../lib/authorization/start.ts';
import { CODE_TTL_S } from '../../lib/store/codes.ts';
import { isAppId } from '../../lib/wechat/ids.ts';

export interface LandingRequest {
  readonly authorizationCode: string;
  readonly expiresIn: number;
}
type Query = Readonly<Record<string, string | undefined>> | null | undefined;

const CODE = /^[\x21-\x7e]{1,512}$/;

/** Reads `auth_type` (1 accounts, 2 mini programs, 3 both; default 3) and optional `biz_appid`. */
export const parseStartQuery = (query: Query): StartRequest => {
  const authType = Number(query?.auth_type ?? '3');
  if (!(authType === 1 || authType === 2 || authType === 3) || !/^[123]$/.test(query?.auth_type ?? '3')) {
    throw new BadRequestError('auth_type must be 1 (official accounts), 2 (mini programs) or 3 (both)');
  }
  const bizAppid = query?.biz_appid;
  if (bizAppid !== undefined && bizAppid !== '' && !isAppId(bizAppid)) {
    throw new BadRequestError('biz_appid must be an appid: wx followed by 16 letters or digits');
  }
  return bizAppid ? { authType, bizAppid } : { authType };
};

/** Reads the `auth_code` and `expires_in` WeChat appends to redirect_uri. */
export const parseLandingQuery = (query: Query): LandingRequest => {
  const code = query?.auth_code;
  if (!code || !CODE.test(code)) throw new BadRequestError('auth_code is missing: open this page through the authorization start page');
  const raw = query?.expires_in ?? String(CODE_TTL_S);
  const expiresIn = Number(raw);
  if (!/^\d{1,6}$/.test(raw) || expiresIn < 1) throw new BadRequestError('expires_in must be a positive number of seconds');
  return { authorizationCode: code, expiresIn };
};
