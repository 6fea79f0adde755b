// Authorizer access tokens: one per authorized account, cached in the table, refreshed from the stored
// refresh token under a per-account lease so only one caller (on demand or scheduled) asks WeChat.
import { nowSeconds } from '../kernel/clock.ts';
import { AUTHORIZER_LEASE_MS, FOLLOWER_MAX_WAIT_MS, TOKEN_POLL } from '../kernel/limits.ts';
import type { WeChatDeps } from '../runtime/wechat-deps.ts';
import { getAuthorizerState, getAuthorizerStateWithLease, type AuthorizerProfile } from '../store/authorizers.ts';
import { nextRefreshFor, postponeRefresh, unschedule } from '../store/schedule.ts';
import { expireAuthorizerToken, type AccessToken } from '../store/tokens.ts';
import { isTokenInvalid } from '../wechat/errors.ts';
import { needsReauth, refreshAuthorizer, type RefreshableProfile, type RecoveryOptions } from './authorizer-refresh.ts';
import { usable } from './component-token.ts';
import { refreshIfDue, singleFlight, type DueOutcome, type FlightOptions, type Renew } from './single-flight.ts';
import { AuthorizerNotFoundError, AuthorizerUnauthorizedError, NoRefreshTokenError } from './errors.ts';

/**
 * Lease: one step of a holder (lib/kernel/limits.ts AUTHORIZER_LEASE_MS, 49.2 s). The holder renews the lease
 * (Renew) before every further WeChat call (the retry after 40001, and in the 61023 chain the previous refresh
 * token, each api_get_authorizer_list page, the listed token), so no chain outlives its lease however long it runs.
 */
export const AUTHORIZER_FLIGHT: FlightOptions = { leaseMs: AUTHORIZER_LEASE_MS, maxWaitMs: FOLLOWER_MAX_WAIT_MS, ...TOKEN_POLL };

export const authorizerLease = (authorizerAppid: string): string => `authorizer-token#${authorizerAppid}`;

/** The profile of an account that can have tokens; typed errors for unknown and revoked accounts. */
export const activeProfile = (appid: string, profile: AuthorizerProfile | undefined): RefreshableProfile => {
  if (!profile) {
    throw new AuthorizerNotFoundError(
      `${appid} has not authorized this component: send its owner the authorization page GET /wechat/component/authorize`,
    );
  }
  if (profile.status === 'unauthorized') {
    const at = profile.revokedDetectedAt ?? profile.unauthorizedAt;
    const when = at ? ` (known since ${new Date(at * 1000).toISOString()})` : '';
    throw new AuthorizerUnauthorizedError(
      `${appid} revoked its authorization${when}; its owner must authorize again through GET /wechat/component/authorize`,
    );
  }
  if (profile.status === 'no_refresh_token' || profile.refreshToken === undefined) {
    throw new NoRefreshTokenError(
      `${appid} authorized this component without API access, so WeChat gave no refresh token: ` +
        'its owner must authorize again through GET /wechat/component/authorize and grant the API permissions',
    );
  }
  return profile as RefreshableProfile;
};

/** One consistent Query: the profile (checked) and, if good enough to hand out, the token. */
const readAccount = async (deps: WeChatDeps, appid: string) => {
  const { profile, token } = await getAuthorizerState(deps, appid, { consistent: true });
  return { profile: activeProfile(appid, profile), token };
};

/** The token if good enough to hand out; a needs_reauth account's last token still works until it expires. */
const usableFor = (appid: string, found: { profile?: AuthorizerProfile; token?: AccessToken }, now: number, since?: number) => {
  const profile = activeProfile(appid, found.profile);
  const live = usable(found.token, now, since);
  if (!live && profile.status === 'needs_reauth') throw needsReauth(appid);
  return live;
};

const readUsable = async (deps: WeChatDeps, appid: string, since?: number): Promise<AccessToken | undefined> =>
  usableFor(appid, await getAuthorizerState(deps, appid, { consistent: true }), nowSeconds(deps.clock), since);

const observeUsable = async (deps: WeChatDeps, appid: string, since: number) => {
  const found = await getAuthorizerStateWithLease(deps, appid, authorizerLease(appid));
  return { value: usableFor(appid, found, nowSeconds(deps.clock), since), ...(found.lease ? { lease: found.lease } : {}) };
};

const refreshAccount = async (deps: WeChatDeps, appid: string, renew: Renew, options: RecoveryOptions = {}): Promise<AccessToken> => {
  const { profile } = await readAccount(deps, appid);
  if (profile.status === 'needs_reauth') throw needsReauth(appid);
  return refreshAuthorizer(deps, profile, renew, options);
};

/**
 * An authorizer access token with more than TOKEN_MARGIN_S left, from the table or, at most once across
 * all concurrent callers, from WeChat (api_authorizer_token with the stored refresh token).
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/api_authorizer_token.html
 */
export const getAuthorizerAccessToken = async (
  deps: WeChatDeps,
  authorizerAppid: string,
  options: FlightOptions = AUTHORIZER_FLIGHT,
): Promise<AccessToken> => {
  const cached = await readUsable(deps, authorizerAppid);
  if (cached) return cached;
  return singleFlight(
    deps,
    {
      what: authorizerLease(authorizerAppid),
      read: (since) => readUsable(deps, authorizerAppid, since),
      observe: (since) => observeUsable(deps, authorizerAppid, since),
      refresh: (renew) => refreshAccount(deps, authorizerAppid, renew),
    },
    options,
  );
};

/**
 * Runs `fn` with the account's token; on 40001/40014/42001 expires exactly that token (never a newer one)
 * and retries once with a fresh token.
 */
export const withAuthorizerToken = async <T>(
  deps: WeChatDeps,
  authorizerAppid: string,
  fn: (authorizerAccessToken: string) => Promise<T>,
): Promise<T> => {
  const token = await getAuthorizerAccessToken(deps, authorizerAppid);
  try {
    return await fn(token.accessToken);
  } catch (error) {
    if (!isTokenInvalid(error)) throw error;
    const expired = await expireAuthorizerToken(deps, authorizerAppid, token.accessToken);
    deps.logger.warn('authorizer_token.rejected', { authorizerAppid, expired }, error);
    return fn((await getAuthorizerAccessToken(deps, authorizerAppid)).accessToken);
  }
};

/** What a scheduled refresh found for one account; `inactive`: not authorized (or unknown), nothing to refresh. */
export type AuthorizerDueOutcome = DueOutcome | 'inactive';

/**
 * For the scheduled refresh: refreshes the account's token if it expires before `dueBefore` (epoch s). Three
 * DynamoDB calls when it refreshes: the lease, one consistent read of the account under it (profile and token:
 * the schedule may lag a refresh made since), the transaction storing the token; a fourth releases the lease.
 * A fresh token moves the account's schedule to it; an account that is not authorized leaves the schedule.
 * Throws NeedsReauthError (and the errors of the refresh) when it cannot refresh an authorized account.
 */
export const refreshAuthorizerTokenIfDue = (
  deps: WeChatDeps,
  authorizerAppid: string,
  options: { dueBefore: number } & RecoveryOptions,
): Promise<AuthorizerDueOutcome> =>
  refreshIfDue(deps, authorizerLease(authorizerAppid), AUTHORIZER_FLIGHT.leaseMs, async (renew): Promise<AuthorizerDueOutcome> => {
    const { profile, token } = await getAuthorizerState(deps, authorizerAppid, { consistent: true });
    if (profile?.status !== 'authorized' || profile.refreshToken === undefined) {
      if (profile) await unschedule(deps, authorizerAppid);
      return 'inactive';
    }
    if (token && token.expiresAt > options.dueBefore) {
      await postponeRefresh(deps, authorizerAppid, nextRefreshFor(token.expiresAt));
      return 'fresh';
    }
    const { listed, component } = options;
    await refreshAuthorizer(deps, profile as RefreshableProfile, renew, { ...(listed ? { listed } : {}), ...(component ? { component } : {}) });
    return 'refreshed';
  });
