// Web OAuth on behalf of authorized official accounts (docs/on-behalf.md): the authorize URL a page sends its
// user to, and the component's code exchange, refresh and userinfo. The component token goes in the query;
// no account secret is ever needed. User tokens are returned to the caller and never stored or logged.
import { nowSeconds } from '../kernel/clock.ts';
import { protectSecret } from '../kernel/logger.ts';
import type { ActionInput, AdminAction } from '../admin/action.ts';
import type { WeChatDeps } from '../runtime/wechat-deps.ts';
import { getAuthorizer } from '../store/authorizers.ts';
import { activeProfile } from '../tokens/authorizer-token.ts';
import { withComponentToken } from '../tokens/component-token.ts';
import { isAppId } from '../wechat/ids.ts';
import {
  isCodeInvalid,
  isScopeInsufficient,
  isUserRefreshTokenInvalid,
  isUserTokenInvalid,
  OAUTH_AUTHORIZE_URL,
  type OAuthUserInfo,
  type OAuthUserToken,
} from '../wechat/on-behalf-client.ts';
import { WeChatApiError } from '../wechat/errors.ts';
import { InvalidCodeError, InvalidRefreshTokenError, InvalidUserTokenError, OnBehalfRequestError, ScopeInsufficientError } from './errors.ts';

export const OAUTH_SCOPES = ['snsapi_base', 'snsapi_userinfo'] as const;
export type OAuthScope = (typeof OAUTH_SCOPES)[number];

/** WeChat returns `state` verbatim; its documentation allows up to 128 letters and digits. */
const STATE_PATTERN = /^[A-Za-z0-9]{1,128}$/;
const MAX_REDIRECT_URI_LENGTH = 1024;

/** What the caller receives for a code exchange or refresh. */
export interface UserToken {
  readonly openid: string;
  readonly accessToken: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
  readonly refreshToken: string;
  readonly scope: string;
  readonly unionid?: string;
  /** A snapshot-page user: virtual openid and unionid; never create or merge an account for them. */
  readonly isSnapshotUser?: boolean;
}

export interface OAuthUrlInput {
  readonly authorizerAppid: string;
  readonly redirectUri: string;
  readonly scope: OAuthScope;
  readonly state?: string;
}

/** The account must still authorize the component; a needs_reauth account's users can still sign in. */
export const requireAuthorizer = async (deps: WeChatDeps, authorizerAppid: string): Promise<void> => {
  activeProfile(authorizerAppid, await getAuthorizer(deps, authorizerAppid));
};

const checkRedirectUri = (value: unknown): string => {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_REDIRECT_URI_LENGTH) {
    throw new OnBehalfRequestError(`"redirectUri" must be the page WeChat sends the user back to (at most ${MAX_REDIRECT_URI_LENGTH} characters)`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new OnBehalfRequestError('"redirectUri" must be an absolute URL, e.g. https://h5.example.com/oauth/callback');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new OnBehalfRequestError('"redirectUri" must be an http or https URL');
  if (url.port) throw new OnBehalfRequestError('"redirectUri" must not name a port: WeChat only redirects to the registered domain on 80/443');
  // WeChat appends ?code&state&appid before a `#`, so a hash route would lose them: carry the route in `state`.
  if (value.includes('#')) throw new OnBehalfRequestError('"redirectUri" must not contain a #fragment; carry the route in "state" instead');
  return value;
};

/** Checks an `oauthUrl` input; throws OnBehalfRequestError naming the problem. */
export const parseOAuthUrlInput = (input: ActionInput): OAuthUrlInput => {
  const unknown = Object.keys(input).filter((key) => !['authorizerAppid', 'redirectUri', 'scope', 'state'].includes(key));
  if (unknown.length > 0) throw new OnBehalfRequestError(`unknown field(s): ${unknown.join(', ')}`);
  const { authorizerAppid, redirectUri, scope, state } = input;
  if (typeof authorizerAppid !== 'string' || !isAppId(authorizerAppid)) {
    throw new OnBehalfRequestError('"authorizerAppid" must be the official account\'s appid: wx followed by 16 hex digits');
  }
  if (typeof scope !== 'string' || !(OAUTH_SCOPES as readonly string[]).includes(scope)) {
    throw new OnBehalfRequestError('"scope" must be "snsapi_base" (silent, openid only) or "snsapi_userinfo" (asks the user, profile too)');
  }
  if (state !== undefined && (typeof state !== 'string' || !STATE_PATTERN.test(state))) {
    throw new OnBehalfRequestError('"state" must be 1 to 128 letters or digits (WeChat returns it verbatim; bind it to the user\'s session)');
  }
  return { authorizerAppid, redirectUri: checkRedirectUri(redirectUri), scope: scope as OAuthScope, ...(state ? { state } : {}) };
};

/**
 * The authorize URL for `input`, opened inside WeChat: the documented parameters in the documented order,
 * `connect_redirect=1` so WeChat does not redirect twice (two codes for one visit), and `#wechat_redirect`.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/Official_Accounts/official_account_website_authorization.html
 */
export const buildOAuthUrl = (componentAppId: string, input: OAuthUrlInput): string =>
  `${OAUTH_AUTHORIZE_URL}?appid=${input.authorizerAppid}&redirect_uri=${encodeURIComponent(input.redirectUri)}` +
  `&response_type=code&scope=${input.scope}${input.state ? `&state=${input.state}` : ''}` +
  `&component_appid=${componentAppId}&connect_redirect=1#wechat_redirect`;

/** The `admin` action `oauthUrl` {authorizerAppid, redirectUri, scope, state?} → {url}. */
export const oauthUrl: AdminAction = async (deps, input) => {
  const parsed = parseOAuthUrlInput(input);
  await requireAuthorizer(deps, parsed.authorizerAppid);
  return { url: buildOAuthUrl(deps.config.componentAppId, parsed) };
};

const toUserToken = (token: OAuthUserToken, obtainedAt: number): UserToken => ({
  openid: token.openid,
  accessToken: token.accessToken,
  // Counted from before the call, so it never promises more than WeChat granted.
  expiresAt: obtainedAt + token.expiresIn,
  refreshToken: token.refreshToken,
  scope: token.scope,
  ...(token.unionid ? { unionid: token.unionid } : {}),
  ...(token.isSnapshotUser ? { isSnapshotUser: true } : {}),
});

const codeError = (appid: string, error: WeChatApiError) =>
  new InvalidCodeError(
    `WeChat refused the OAuth code (errcode ${error.errcode}): it was already used, is older than 5 minutes or belongs to another account ` +
      `than ${appid}. Send the user through the authorize URL again; never retry a code`,
    { cause: error, errcode: error.errcode },
  );

/** Exchanges the code WeChat appended to redirect_uri for the user's openid and user token, through the component. */
export const exchangeOAuthCode = async (deps: WeChatDeps, authorizerAppid: string, code: string): Promise<UserToken> => {
  protectSecret(code);
  await requireAuthorizer(deps, authorizerAppid);
  const obtainedAt = nowSeconds(deps.clock);
  try {
    const token = await withComponentToken(deps, (componentToken) =>
      deps.wechat.componentOAuthAccessToken(componentToken, { componentAppId: deps.config.componentAppId, authorizerAppid, code }),
    );
    return toUserToken(token, obtainedAt);
  } catch (error) {
    if (isCodeInvalid(error)) throw codeError(authorizerAppid, error as WeChatApiError);
    throw error;
  }
};

/** A new user access token from the 30-day refresh token, through the component's refresh endpoint. */
export const refreshOAuthToken = async (deps: WeChatDeps, authorizerAppid: string, refreshToken: string): Promise<UserToken> => {
  protectSecret(refreshToken);
  await requireAuthorizer(deps, authorizerAppid);
  const obtainedAt = nowSeconds(deps.clock);
  try {
    const token = await withComponentToken(deps, (componentToken) =>
      deps.wechat.componentOAuthRefreshToken(componentToken, { componentAppId: deps.config.componentAppId, authorizerAppid, refreshToken }),
    );
    return toUserToken(token, obtainedAt);
  } catch (error) {
    if (!isUserRefreshTokenInvalid(error)) throw error;
    const e = error as WeChatApiError;
    throw new InvalidRefreshTokenError(
      `WeChat refused the user's refresh token (errcode ${e.errcode}: invalid, or older than 30 days): send the user through the authorize URL again`,
      { cause: error, errcode: e.errcode },
    );
  }
};

/**
 * The user's profile with their user access token (scope snsapi_userinfo). A refused user token never
 * touches the component token: it is the caller's to refresh.
 */
export const getOAuthUserinfo = async (
  deps: WeChatDeps,
  authorizerAppid: string,
  input: { accessToken: string; openid: string },
): Promise<OAuthUserInfo> => {
  protectSecret(input.accessToken);
  await requireAuthorizer(deps, authorizerAppid);
  try {
    return await deps.wechat.snsUserinfo(input.accessToken, { openid: input.openid });
  } catch (error) {
    const errcode = error instanceof WeChatApiError ? error.errcode : undefined;
    if (isUserTokenInvalid(error)) {
      throw new InvalidUserTokenError(`WeChat refused the user access token (errcode ${errcode}): refresh it with oauthRefreshToken`, {
        cause: error,
        errcode,
      });
    }
    if (isScopeInsufficient(error)) {
      throw new ScopeInsufficientError('the user token was granted with snsapi_base, which carries no profile: ask with scope snsapi_userinfo', {
        cause: error,
        errcode,
      });
    }
    throw error;
  }
};
