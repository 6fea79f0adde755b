// The authorize function's routes and query parameters: the start page's signed `link`, and on the landing page
// the signed `state` our redirect_uri carries plus the `auth_code` / `expires_in` WeChat appends to it.
import type { LinkRefusedError } from '../../lib/authorization/links.ts';
import { BadRequestError } from '../../lib/kernel/errors.ts';
import { CODE_TTL_S } from '../../lib/store/codes.ts';

/** The landing page's route (serverless.yml); the start page's is START_PAGE_PATH (lib/authorization/links.ts). */
export const LANDING_PATH = '/wechat/component/authorized';

export interface LandingRequest {
  readonly authorizationCode: string;
  readonly expiresIn: number;
}
export type Query = Readonly<Record<string, string | undefined>> | null | undefined;

const CODE = /^[\x21-\x7e]{1,512}$/;

/** Reads the `auth_code` and `expires_in` WeChat appends to redirect_uri. */
export const parseLandingQuery = (query: Query): LandingRequest => {
  const code = query?.auth_code;
  if (!code || !CODE.test(code)) throw new BadRequestError('auth_code is missing: open this page through the authorization start page');
  const raw = query?.expires_in ?? String(CODE_TTL_S);
  const expiresIn = Number(raw);
  if (!/^\d{1,6}$/.test(raw) || expiresIn < 1) throw new BadRequestError('expires_in must be a positive number of seconds');
  return { authorizationCode: code, expiresIn };
};

/** The log fields of a refused link or state: why, never the value. */
export const refusal = (error: LinkRefusedError, path: string | undefined) => ({ path, reason: error.reason });
