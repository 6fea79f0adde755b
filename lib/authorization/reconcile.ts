// Reconcile (docs/architecture.md §7): compares what WeChat says about the accounts that authorize this
// component with the profiles, and repairs the table where it fell behind. Daily (the `refresh` function's
// {"reconcile":true} schedule), on demand (the `reconcile` admin action), and for one account when the message
// URL saw a verified message for an account it does not hold as authorized (a `reconcile_request` event).
//  - listed, no profile (its push never arrived) or revoked / without a refresh token here but authorized again
//    there (a later authorization whose push was lost): stored from api_get_authorizer_info, as a grant of the
//    list's auth_time, so the ordering guards still decide against a newer revocation;
//  - listed with another refresh token than the profile's (stale, or needs_reauth): the listed one is adopted,
//    the old one kept as previous, and the account is due at once;
//  - an authorized profile WeChat no longer lists: flagged (unlistedAt), never revoked on that alone.
import { nowSeconds } from '../kernel/clock.ts';
import { BadRequestError } from '../kernel/errors.ts';
import { createMetrics, type Metrics } from '../kernel/metrics.ts';
import type { ActionInput, ActionOutput, AdminAction } from '../admin/action.ts';
import type { WeChatDeps } from '../runtime/wechat-deps.ts';
import { getAuthorizer, listAuthorizers, markRevoked, markUnlisted, type AuthorizerProfile } from '../store/authorizers.ts';
import type { StoredEvent } from '../store/events.ts';
import { adoptListedRefreshToken, saveAuthorizationWithoutRefreshToken, saveAuthorizationWithoutToken } from '../store/grants.ts';
import { grantEvents, recoveredByReconcileEvents, unauthorizedEvents } from '../events/authorizer-events.ts';
import { isRevoked } from '../wechat/errors.ts';
import { withComponentToken } from '../tokens/component-token.ts';
import { walkAuthorizerList } from '../tokens/authorizer-list.ts';

export type AccountOutcome = 'recovered' | 'refresh_token_updated' | 'revoked' | 'unchanged' | 'stale';

export interface ReconcileSummary {
  listed: number;
  profiles: number;
  recovered: number;
  refreshTokensUpdated: number;
  unlisted: number;
  unchanged: number;
  failed: number;
  /** False when the deadline stopped it: the rest is looked at by the next run. */
  complete: boolean;
}

type ReconcileDeps = WeChatDeps & { readonly metrics?: Metrics };

type AuthorizerInfoAnswer = Awaited<ReturnType<WeChatDeps['wechat']['apiGetAuthorizerInfo']>>;

/** What WeChat says of one account it lists: the refresh token it honours and when the account authorized. */
interface Listed {
  readonly refreshToken?: string;
  /** Epoch seconds; for a single account (no list entry) the time just before asking WeChat. */
  readonly authorizedAt: number;
  /** api_get_authorizer_info's answer when it was asked already (a single account): not asked again. */
  readonly answer?: AuthorizerInfoAnswer;
}

/** Stores the authorization WeChat holds for an account the table lacks (or holds as revoked or without token). */
const recoverGrant = async (deps: ReconcileDeps, appid: string, listed: Listed): Promise<AccountOutcome> => {
  const componentAppId = deps.config.componentAppId;
  const { authorizerInfo, authorizationInfo } =
    listed.answer ?? (await withComponentToken(deps, (t) => deps.wechat.apiGetAuthorizerInfo(t, { componentAppId, authorizerAppid: appid })));
  const refreshToken = authorizationInfo.authorizerRefreshToken ?? listed.refreshToken;
  const granted = { funcInfo: [...authorizationInfo.funcInfo], info: authorizerInfo, authorizedAt: listed.authorizedAt };
  const saved = refreshToken
    ? await saveAuthorizationWithoutToken(deps, appid, { ...granted, refreshToken }, grantEvents(deps))
    : await saveAuthorizationWithoutRefreshToken(deps, appid, granted, grantEvents(deps));
  return saved === 'saved' ? 'recovered' : 'stale';
};

/** Brings one account the list holds in line with it. */
const reconcileListed = async (deps: ReconcileDeps, appid: string, profile: AuthorizerProfile | undefined, listed: Listed) => {
  if (!profile || profile.status === 'unauthorized' || profile.status === 'no_refresh_token') {
    // What the table holds is as new as WeChat's grant (a revocation after it: the list lags): nothing to ask.
    if (profile && (profile.authorizedAt >= listed.authorizedAt || (profile.unauthorizedAt ?? 0) >= listed.authorizedAt)) return 'unchanged';
    return recoverGrant(deps, appid, listed);
  }
  if (profile.unlistedAt !== undefined) await markUnlisted(deps, appid, false);
  const current = profile.refreshToken;
  if (!listed.refreshToken || !current || listed.refreshToken === current) return 'unchanged';
  // Our previous one: the 61023 chain has tried it already, or a rotation is still on its way to the list.
  if (listed.refreshToken === profile.previousRefreshToken) return 'unchanged';
  // WeChat honours the listed token; ours is stale (or got 61023). Ours stays as the previous one.
  const recovering = profile.status === 'needs_reauth';
  const events = recovering ? recoveredByReconcileEvents(deps, profile, listed.refreshToken) : [];
  const adopted = await adoptListedRefreshToken(deps, appid, { refreshToken: listed.refreshToken, replaces: current }, events);
  if (!adopted) return 'stale';
  deps.logger.warn('reconcile.refresh_token_adopted', { authorizerAppid: appid, previousStatus: profile.status });
  return recovering ? 'recovered' : 'refresh_token_updated';
};

/**
 * One account, for a reconcile request (the `reconcile_request` event handler of the `authorized` function): asks
 * api_get_authorizer_info whether WeChat holds it as authorized, and repairs the profile as the full run would.
 */
export const reconcileAccount = async (deps: ReconcileDeps, appid: string): Promise<AccountOutcome> => {
  const profile = await getAuthorizer(deps, appid);
  const before = nowSeconds(deps.clock);
  const componentAppId = deps.config.componentAppId;
  try {
    const answer = await withComponentToken(deps, (t) => deps.wechat.apiGetAuthorizerInfo(t, { componentAppId, authorizerAppid: appid }));
    const { authorizationInfo } = answer;
    const listed = {
      authorizedAt: before,
      answer,
      ...(authorizationInfo.authorizerRefreshToken ? { refreshToken: authorizationInfo.authorizerRefreshToken } : {}),
    };
    return await reconcileListed(deps, appid, profile, listed);
  } catch (error) {
    if (!isRevoked(error)) throw error;
    // WeChat no longer holds the account: the `unauthorized` push was lost or is still on its way.
    if (profile?.refreshToken && profile.status !== 'unauthorized') {
      await markRevoked(deps, appid, profile, unauthorizedEvents(deps, 'reconcile', deps.clock())(profile));
      return 'revoked';
    }
    return 'unchanged';
  }
};

/** The `reconcile_request` handler of the `authorized` function. */
export const handleReconcileRequest = async (deps: WeChatDeps, event: StoredEvent): Promise<void> => {
  if (!event.authorizerAppid) return;
  const outcome = await reconcileAccount(deps, event.authorizerAppid);
  deps.logger.info('reconcile.account', { authorizerAppid: event.authorizerAppid, outcome, reason: event.payload.reason });
};

const count = (summary: ReconcileSummary, outcome: AccountOutcome): void => {
  if (outcome === 'recovered') summary.recovered += 1;
  else if (outcome === 'refresh_token_updated') summary.refreshTokensUpdated += 1;
  else summary.unchanged += 1;
};

/** Flags every authorized profile the list does not hold; counts the profiles. */
const flagUnlisted = async (deps: ReconcileDeps, listed: ReadonlyMap<string, unknown>, summary: ReconcileSummary, hasTime: () => boolean) => {
  let cursor: string | undefined;
  do {
    if (!hasTime()) return false;
    const page = await listAuthorizers(deps, cursor ? { cursor } : {});
    summary.profiles += page.authorizers.length;
    for (const a of page.authorizers) {
      if (a.status !== 'authorized' || listed.has(a.authorizerAppid)) continue;
      summary.unlisted += 1;
      if (await markUnlisted(deps, a.authorizerAppid, true)) deps.logger.warn('reconcile.unlisted', { authorizerAppid: a.authorizerAppid });
    }
    cursor = page.cursor;
  } while (cursor);
  return true;
};

/** The whole comparison: one walk of api_get_authorizer_list, then the profiles. Never throws for one account. */
export const runReconcile = async (deps: ReconcileDeps, options: { timeLeftMs?: () => number } = {}): Promise<ReconcileSummary> => {
  const hasTime = () => !options.timeLeftMs || options.timeLeftMs() > 0;
  const summary: ReconcileSummary = {
    listed: 0,
    profiles: 0,
    recovered: 0,
    refreshTokensUpdated: 0,
    unlisted: 0,
    unchanged: 0,
    failed: 0,
    complete: false,
  };
  const walk = await walkAuthorizerList(deps, { hasTime });
  summary.listed = walk.entries.size;
  let allSeen = walk.complete;
  for (const [appid, entry] of walk.entries) {
    if (!hasTime()) {
      allSeen = false;
      break;
    }
    try {
      const listed = { authorizedAt: entry.authTime ?? nowSeconds(deps.clock), ...(entry.refreshToken ? { refreshToken: entry.refreshToken } : {}) };
      count(summary, await reconcileListed(deps, appid, await getAuthorizer(deps, appid), listed));
    } catch (error) {
      summary.failed += 1;
      deps.logger.warn('reconcile.account_failed', { authorizerAppid: appid }, error);
    }
  }
  // Only a complete list can say an account is missing from it.
  summary.complete = allSeen && (await flagUnlisted(deps, walk.entries, summary, hasTime));
  (deps.metrics ?? createMetrics({ clock: deps.clock })).put({
    ReconcileRecovered: summary.recovered + summary.refreshTokensUpdated,
    ReconcileUnlisted: summary.unlisted,
  });
  deps.logger.info('reconcile.completed', { ...summary });
  return summary;
};

/** The `reconcile` admin action: `{}` → the summary's counts. */
export const reconcile: AdminAction = async (deps: WeChatDeps, input: ActionInput): Promise<ActionOutput> => {
  const unknown = Object.keys(input);
  if (unknown.length > 0) throw new BadRequestError(`reconcile takes no fields; got ${unknown.join(', ')}`);
  return { ...(await runReconcile(deps)) };
};
