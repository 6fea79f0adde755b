// Getting a new authorizer access token from the stored refresh token, and the recovery chain when WeChat
// rejects that refresh token (61023, docs/protocol.md §1.9 and §4 item 6): the previous refresh token once, then
// the one api_get_authorizer_list holds for the account, then `needs_reauth` with an alert-level log line
// naming the account. 61003 (the account revoked the component) marks it unauthorized.
import { nowSeconds } from '../kernel/clock.ts';
import type { WeChatDeps } from '../runtime/wechat-deps.ts';
import { saveRefreshedToken } from '../store/grants.ts';
import { getAuthorizer, getAuthorizerState, markNeedsReauth, markRevoked, type AuthorizerProfile } from '../store/authorizers.ts';
import { StaleWriteError, type AccessToken } from '../store/tokens.ts';
import { isRefreshTokenInvalid, isRevoked, WeChatApiError } from '../wechat/errors.ts';
import { needsReauthEvents, refreshFailedEvents, unauthorizedEvents } from '../events/authorizer-events.ts';
import { recordRefreshFailure } from '../store/refresh-failures.ts';
import { withComponentToken, type ComponentTokenSource } from './component-token.ts';
import type { Renew } from './single-flight.ts';
import { AUTHORIZER_LIST_MAX_PAGES, AUTHORIZER_LIST_PAGE, type ListedRefreshTokens } from './authorizer-list.ts';
import { AuthorizerUnauthorizedError, NeedsReauthError, TokenRefreshFailedError } from './errors.ts';

export const needsReauth = (appid: string): NeedsReauthError =>
  new NeedsReauthError(
    `${appid} needs re-authorization: WeChat rejected its refresh token (61023) and it could not be recovered; ` +
      'ask the account owner to authorize again through GET /wechat/component/authorize',
  );

type RefreshSource = 'current' | 'previous' | 'authorizer_list';

/** A profile that holds a refresh token (every status but no_refresh_token does). */
export type RefreshableProfile = AuthorizerProfile & { readonly refreshToken: string };

/** Exchanges `refreshToken` for an access token and stores both (rotated refresh token included). */
const exchange = async (
  deps: WeChatDeps,
  profile: RefreshableProfile,
  refreshToken: string,
  renew: Renew,
  component?: ComponentTokenSource,
): Promise<AccessToken> => {
  const appid = profile.authorizerAppid;
  const obtainedAt = nowSeconds(deps.clock);
  const answer = await withComponentToken(
    deps,
    async (componentAccessToken) => {
      await renew();
      return deps.wechat.apiAuthorizerToken(componentAccessToken, {
        componentAppId: deps.config.componentAppId,
        authorizerAppid: appid,
        authorizerRefreshToken: refreshToken,
      });
    },
    component,
  );
  const token = { accessToken: answer.authorizerAccessToken, expiresAt: obtainedAt + answer.expiresIn };
  const keep = answer.authorizerRefreshToken ?? refreshToken;
  try {
    await saveRefreshedToken(deps, appid, { ...token, refreshToken: keep, replaces: profile.refreshToken });
  } catch (error) {
    if (!(error instanceof StaleWriteError)) throw error;
    // The profile moved on while WeChat answered (a re-authorization) or a newer token is stored: theirs wins.
    const { token: newer } = await getAuthorizerState(deps, appid, { consistent: true });
    if (newer) return newer;
    throw error;
  }
  deps.logger.info('authorizer_token.refreshed', {
    authorizerAppid: appid,
    expiresAt: token.expiresAt,
    refreshTokenRotated: keep !== profile.refreshToken,
  });
  return { ...token, obtainedAt };
};

/** The exchange, or undefined when WeChat rejects the refresh token (61023); other failures propagate. */
const tryExchange = async (
  deps: WeChatDeps,
  profile: RefreshableProfile,
  refreshToken: string,
  source: RefreshSource,
  renew: Renew,
  component?: ComponentTokenSource,
) => {
  try {
    return await exchange(deps, profile, refreshToken, renew, component);
  } catch (error) {
    if (!isRefreshTokenInvalid(error)) throw error;
    deps.logger.warn('authorizer.refresh_token_rejected', { authorizerAppid: profile.authorizerAppid, source }, error);
    return undefined;
  }
};

/**
 * The refresh token WeChat holds for the account, paging through api_get_authorizer_list until it is found. A
 * refresh run passes its shared walk instead (lib/tokens/authorizer-list.ts).
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/Account_Authorization/api_get_authorizer_list.html
 */
export const findListedRefreshToken = async (deps: WeChatDeps, appid: string, renew: Renew = async () => {}): Promise<string | undefined> => {
  let offset = 0;
  for (let page = 0; page < AUTHORIZER_LIST_MAX_PAGES; page += 1) {
    const { totalCount, list } = await withComponentToken(deps, async (componentAccessToken) => {
      await renew();
      return deps.wechat.apiGetAuthorizerList(componentAccessToken, {
        componentAppId: deps.config.componentAppId,
        offset,
        count: AUTHORIZER_LIST_PAGE,
      });
    });
    const hit = list.find((entry) => entry.authorizerAppid === appid);
    if (hit) return hit.refreshToken;
    offset += list.length;
    if (list.length === 0 || offset >= totalCount) return undefined;
  }
  return undefined;
};

/** What a scheduled run shares between its refreshes: its walk of the authorizer list, its component token. */
export interface RecoveryOptions {
  /** How a refresh finds the listed refresh token: its run's shared walk, or a walk of its own. */
  readonly listed?: ListedRefreshTokens;
  /** The run's component token (component-token.ts runComponentToken); without it each call reads the table. */
  readonly component?: ComponentTokenSource;
}

const exchangeWithFallbacks = async (deps: WeChatDeps, profile: RefreshableProfile, renew: Renew, options: RecoveryOptions): Promise<AccessToken> => {
  const appid = profile.authorizerAppid;
  const tried = [profile.refreshToken];
  const current = await tryExchange(deps, profile, profile.refreshToken, 'current', renew, options.component);
  if (current) return current;
  const previous = profile.previousRefreshToken;
  if (previous && !tried.includes(previous)) {
    tried.push(previous);
    const token = await tryExchange(deps, profile, previous, 'previous', renew, options.component);
    if (token) return token;
  }
  const listed = options.listed ? await options.listed.refreshTokenOf(appid, renew) : await findListedRefreshToken(deps, appid, renew);
  if (listed && !tried.includes(listed)) {
    const token = await tryExchange(deps, profile, listed, 'authorizer_list', renew, options.component);
    if (token) return token;
  }
  const reason = 'refresh token rejected (61023); previous and api_get_authorizer_list did not help';
  const marked = await markNeedsReauth(deps, appid, reason, {
    ifRefreshToken: profile.refreshToken,
    events: needsReauthEvents(deps, profile, reason),
  });
  if (!marked) {
    // The profile changed while we tried (a re-authorization): its new refresh token deserves a fresh attempt.
    throw new TokenRefreshFailedError(`${appid}: the authorization changed during the refresh; retry`);
  }
  deps.logger.error('authorizer.needs_reauth', { authorizerAppid: appid, triedRefreshTokens: tried.length, listedFound: listed !== undefined });
  throw needsReauth(appid);
};

/**
 * Errcodes of api_authorizer_token that tell nothing lasting: busy (-1), the minute quota (45011), a component
 * token that was replaced (40001/40014/42001), and the two the chain handles itself (61023, 61003).
 */
const PASSING = new Set([-1, 45011, 40001, 40014, 42001, 61023, 61003]);
const AUTHORIZER_TOKEN_API = 'component/api_authorizer_token';

/** A failure of the account's own refresh call that retrying will not fix (45009 quota, 61004 IP, 48001, …). */
const isLastingRefreshFailure = (error: unknown): error is WeChatApiError =>
  error instanceof WeChatApiError && error.api === AUTHORIZER_TOKEN_API && !PASSING.has(error.errcode);

/** Records the failure on the profile with its `Token Refresh Failed` event, once per errcode; never masks `error`. */
const recordLastingFailure = async (deps: WeChatDeps, profile: AuthorizerProfile, error: WeChatApiError): Promise<void> => {
  const failure = { api: error.api, errcode: error.errcode, errmsg: error.errmsg };
  const appid = profile.authorizerAppid;
  const recorded = await recordRefreshFailure(deps, appid, profile, failure, refreshFailedEvents(deps, profile, failure)).catch((e: unknown) => {
    deps.logger.warn('authorizer.refresh_failure_not_recorded', { authorizerAppid: appid, errcode: error.errcode }, e);
    return false;
  });
  if (recorded) deps.logger.warn('authorizer.refresh_failure_recorded', { authorizerAppid: appid, errcode: error.errcode });
};

/**
 * Gets and stores a new access token for an authorized account, recovering from 61023 and recording 61003
 * (only against the authorization it read: markRevoked).
 * Lease holders only: `renew` runs before every WeChat call so a long 61023 chain keeps the lease.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/api_authorizer_token.html
 */
export const refreshAuthorizer = async (
  deps: WeChatDeps,
  profile: RefreshableProfile,
  renew: Renew,
  options: RecoveryOptions = {},
): Promise<AccessToken> => {
  try {
    return await exchangeWithFallbacks(deps, profile, renew, options);
  } catch (error) {
    if (isLastingRefreshFailure(error)) await recordLastingFailure(deps, profile, error);
    if (!isRevoked(error)) throw error;
    const appid = profile.authorizerAppid;
    const result = await markRevoked(deps, appid, profile, unauthorizedEvents(deps, 'refresh', deps.clock())(profile));
    deps.logger.warn('authorizer.revoked', { authorizerAppid: appid, result }, error);
    if (result === 'stale' && (await getAuthorizer(deps, appid))?.status !== 'unauthorized') {
      // A re-authorization was stored while WeChat answered: the 61003 was about the grant it replaced.
      throw new TokenRefreshFailedError(`${appid}: the authorization changed during the refresh; retry`, { cause: error });
    }
    throw new AuthorizerUnauthorizedError(
      `${appid} no longer authorizes this component (61003); its owner must authorize again through GET /wechat/component/authorize`,
      { cause: error },
    );
  }
};
