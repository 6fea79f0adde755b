// The scheduled refresh (EventBridge rate(5 minutes)): the component token and every authorizer token that
// would expire before the next run plus a margin. Work follows what is due (the sparse gsi1, never a Scan);
// each token is refreshed through the token service under the same lease as an on-demand refresh, so a run
// and a caller never both call WeChat for one token. One account's failure never stops the others, and the
// run stops taking work before the Lambda deadline: whatever is left stays due for the next run.
import { nowSeconds } from '../kernel/clock.ts';
import type { WeChatDeps } from '../runtime/wechat-deps.ts';
import { createMetrics, type Metrics } from '../kernel/metrics.ts';
import { listDueAuthorizers, type DueCursor } from '../store/schedule.ts';
import { getAuthorizer } from '../store/authorizers.ts';
import { getVerifyTicket, TICKET_TTL_S } from '../store/tickets.ts';
import { getComponentToken } from '../store/tokens.ts';
import { WeChatApiError, WeChatNetworkError, WeChatProtocolError } from '../wechat/errors.ts';
import { refreshAuthorizerTokenIfDue } from './authorizer-token.ts';
import { refreshComponentTokenIfDue } from './component-token.ts';
import { AuthorizerNotFoundError, AuthorizerUnauthorizedError, NeedsReauthError, TokenServiceError } from './errors.ts';

/** The schedule's period (serverless.yml `rate(5 minutes)`): a token must survive until the next run. */
export const SCHEDULE_INTERVAL_S = 300;
/** Margin beyond the next run, so a late or failed run still leaves callers a valid token. */
export const REFRESH_WINDOW_S = 600;
/** Stop taking new work this long before the Lambda timeout: one refresh's worst case (timeouts + retries). */
export const DEADLINE_SAFETY_MS = 20_000;
/** A missing ticket is reported at least this old, so a ticket-age alarm fires (a stored one expires at 12 h). */
export const TICKET_MISSING_AGE_S = TICKET_TTL_S;

export type RefreshDeps = WeChatDeps & { readonly metrics?: Metrics };

export interface RefreshOptions {
  /**
   * The deadline, as time left in ms: no new account is started once it returns 0 or less. The handler passes
   * the Lambda's remaining time minus DEADLINE_SAFETY_MS; without it the run goes through everything due.
   */
  readonly timeLeftMs?: () => number;
  /** Parallel refreshes; default config.refreshConcurrency. */
  readonly concurrency?: number;
  readonly pageSize?: number;
}

export type ComponentOutcome = 'refreshed' | 'fresh' | 'leased' | 'failed';

export interface RefreshSummary {
  readonly component: ComponentOutcome;
  /** Authorizer tokens read from the due index this run. */
  due: number;
  refreshed: number;
  /** fresh: someone refreshed it since the index was read; leased: a caller is refreshing it now; inactive: not authorized. */
  readonly skipped: { fresh: number; leased: number; inactive: number };
  /** Failures by errcode (`45009`, `-1`, `61023` …) or kind (`network`, `protocol`, `error`). */
  readonly failed: Record<string, number>;
  /** Due tokens read but left for the next run because the deadline came. */
  deferred: number;
  /** Read capacity the due query consumed (ReturnConsumedCapacity TOTAL). */
  consumedCapacity: number;
  durationMs: number;
  stoppedEarly: boolean;
}

/**
 * The bucket a failure is counted in: WeChat's errcode when WeChat answered, else what went wrong. An account
 * that ends in needs_reauth counts as 61023, the code its recovery chain (previous token, list) started from.
 */
export const failureKey = (error: unknown): string => {
  if (error instanceof WeChatApiError) return String(error.errcode);
  if (error instanceof NeedsReauthError) return '61023';
  if (error instanceof TokenServiceError) return error.type;
  if (error instanceof WeChatNetworkError) return 'network';
  if (error instanceof WeChatProtocolError) return 'protocol';
  return 'error';
};

/**
 * Ticket age and the component token, refreshed when it expires before `dueBefore`; never throws. `usable`
 * is false when it failed and no live token is stored, so no authorizer refresh could succeed either.
 */
const refreshComponent = async (deps: RefreshDeps, metrics: Metrics, dueBefore: number) => {
  const componentAppId = deps.config.componentAppId;
  const now = nowSeconds(deps.clock);
  const ticket = await getVerifyTicket(deps, componentAppId);
  // The ticket is what every component token costs; without one the platform goes dark within two hours.
  if (!ticket) deps.logger.error('component_ticket.missing', { componentAppId, maxAgeS: TICKET_TTL_S });
  let outcome: ComponentOutcome;
  try {
    outcome = await refreshComponentTokenIfDue(deps, { dueBefore });
  } catch (error) {
    deps.logger.error('component_token.refresh_failed', { componentAppId, errcode: failureKey(error) }, error);
    outcome = 'failed';
  }
  const token = await getComponentToken(deps, componentAppId);
  const dimensions = { ComponentAppId: componentAppId };
  metrics.put({ TicketAgeSeconds: ticket ? Math.max(0, now - ticket.createTime) : TICKET_MISSING_AGE_S }, dimensions);
  // Rolled up too: the component token alarms (infra/alarms.yml) watch the dimensionless metrics.
  const remaining = token ? token.expiresAt - nowSeconds(deps.clock) : 0;
  metrics.put({ ComponentTokenRemainingSeconds: remaining, ComponentTokenRefreshFailed: outcome === 'failed' ? 1 : 0 }, dimensions, { rollup: true });
  return { outcome, usable: outcome !== 'failed' || token !== undefined };
};

/** The due index page by page, counting what it reads and what the reads cost. */
async function* dueAppids(deps: RefreshDeps, summary: RefreshSummary, dueBefore: number, pageSize?: number) {
  let cursor: DueCursor | undefined;
  do {
    const page = await listDueAuthorizers(deps, { dueBefore, exclusiveStartKey: cursor, ...(pageSize ? { pageSize } : {}) });
    summary.due += page.appids.length;
    summary.consumedCapacity += page.consumedCapacity;
    cursor = page.lastKey;
    yield* page.appids;
  } while (cursor);
}

const countFailure = (deps: RefreshDeps, summary: RefreshSummary, appid: string, error: unknown): void => {
  // 61003 surfaces as AuthorizerUnauthorizedError (the token layer marked the account unauthorized).
  const key = failureKey(error instanceof AuthorizerUnauthorizedError && error.cause ? error.cause : error);
  summary.failed[key] = (summary.failed[key] ?? 0) + 1;
  const fields = { authorizerAppid: appid, errcode: key };
  // 45009: this account's daily quota is gone; calling again today only deepens it (clear_quota is the fix).
  if (key === '45009') deps.logger.error('authorizer_token.quota_exhausted', fields, error);
  else if (key === '-1') deps.logger.warn('authorizer_token.busy_retry_next_run', fields, error);
  else deps.logger.warn('authorizer_token.refresh_failed', fields, error);
};

/**
 * Refreshes one account and records the outcome; a failure is classified, logged and counted, never thrown.
 * Accounts that are not authorized are skipped before any lease or call: a needs_reauth account stays in the
 * due index until its last token's TTL, and must not be reported again every run.
 */
const refreshOne = async (deps: RefreshDeps, summary: RefreshSummary, appid: string, dueBefore: number): Promise<void> => {
  try {
    const profile = await getAuthorizer(deps, appid);
    if (profile?.status !== 'authorized') {
      summary.skipped.inactive += 1;
      return;
    }
    const result = await refreshAuthorizerTokenIfDue(deps, appid, { dueBefore });
    if (result === 'refreshed') summary.refreshed += 1;
    else summary.skipped[result] += 1;
  } catch (error) {
    // Revoked or removed between the two reads: nothing to refresh, nothing wrong.
    if (error instanceof AuthorizerNotFoundError || (error instanceof AuthorizerUnauthorizedError && !error.cause)) {
      summary.skipped.inactive += 1;
      return;
    }
    countFailure(deps, summary, appid, error);
  }
};

/**
 * Workers pull appids from the shared page iterator (async generators queue concurrent `next()` calls), so at
 * most `concurrency` refreshes run and pages are read only as fast as work is taken.
 */
const sweep = async (deps: RefreshDeps, summary: RefreshSummary, dueBefore: number, options: RefreshOptions) => {
  const appids = dueAppids(deps, summary, dueBefore, options.pageSize);
  const hasTime = () => (options.timeLeftMs ? options.timeLeftMs() > 0 : true);
  let taken = 0;
  const worker = async (): Promise<void> => {
    while (hasTime()) {
      const next = await appids.next();
      if (next.done) return;
      if (!hasTime()) break;
      taken += 1;
      await refreshOne(deps, summary, next.value, dueBefore);
    }
    summary.stoppedEarly = true;
  };
  const concurrency = Math.max(1, options.concurrency ?? deps.config.refreshConcurrency);
  await Promise.all(Array.from({ length: concurrency }, worker));
  await appids.return(undefined);
  summary.deferred = summary.due - taken;
};

const emitSummary = (deps: RefreshDeps, metrics: Metrics, summary: RefreshSummary): void => {
  const skipped = summary.skipped.fresh + summary.skipped.leased + summary.skipped.inactive + summary.deferred;
  metrics.put({
    RefreshDue: summary.due,
    AuthorizerRefreshed: summary.refreshed,
    RefreshSkipped: skipped,
    NeedsReauth: summary.failed['61023'] ?? 0,
  });
  for (const [errcode, count] of Object.entries(summary.failed)) metrics.put({ AuthorizerRefreshFailed: count }, { Errcode: errcode });
  deps.logger.info('refresh.completed', {
    component: summary.component,
    due: summary.due,
    refreshed: summary.refreshed,
    skippedFresh: summary.skipped.fresh,
    skippedLeased: summary.skipped.leased,
    skippedInactive: summary.skipped.inactive,
    failed: Object.entries(summary.failed).map(([errcode, n]) => `${errcode}=${n}`),
    deferred: summary.deferred,
    consumedCapacity: summary.consumedCapacity,
    durationMs: summary.durationMs,
    stoppedEarly: summary.stoppedEarly,
  });
};

/**
 * One scheduled run: the component token, then every authorizer token due before the next run plus
 * REFRESH_WINDOW_S. Returns (and logs, and emits as metrics) what it did.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/api_authorizer_token.html
 */
export const runRefresh = async (deps: RefreshDeps, options: RefreshOptions = {}): Promise<RefreshSummary> => {
  const started = performance.now();
  const metrics = deps.metrics ?? createMetrics({ clock: deps.clock });
  const dueBefore = nowSeconds(deps.clock) + SCHEDULE_INTERVAL_S + REFRESH_WINDOW_S;
  const component = await refreshComponent(deps, metrics, dueBefore);
  const summary: RefreshSummary = {
    component: component.outcome,
    due: 0,
    refreshed: 0,
    skipped: { fresh: 0, leased: 0, inactive: 0 },
    failed: {},
    deferred: 0,
    consumedCapacity: 0,
    durationMs: 0,
    stoppedEarly: false,
  };
  if (component.usable) await sweep(deps, summary, dueBefore, options);
  else deps.logger.error('refresh.authorizers_skipped', { componentAppId: deps.config.componentAppId, reason: 'no component token' });
  summary.durationMs = Math.round(performance.now() - started);
  emitSummary(deps, metrics, summary);
  return summary;
};
