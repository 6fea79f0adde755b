// The scheduled refresh (EventBridge rate(5 minutes)): the component token and every authorizer token that
// would expire before the next run plus a margin. Work follows what is due (the schedule on the profiles, the
// sparse gsi1, never a Scan; an account whose token is gone stays due until it is refreshed);
// each token is refreshed through the token service under the same lease as an on-demand refresh, so a run
// and a caller never both call WeChat for one token. One account's failure never stops the others, and the
// run stops taking work before the Lambda deadline: whatever is left stays due for the next run. The schedule
// is sharded (lib/store/keys.ts dueShardOf); a large one is spread over worker runs, each reading its own shards
// (docs/performance.md, "Refresh at scale").
import { nowSeconds } from '../kernel/clock.ts';
import type { WeChatDeps } from '../runtime/wechat-deps.ts';
import { createMetrics, type Metrics } from '../kernel/metrics.ts';
import { DUE_SHARDS } from '../store/keys.ts';
import { listDueAuthorizers, REFRESH_LEAD_S, type DueCursor, type DueQuery } from '../store/schedule.ts';
import { getVerifyTicket, TICKET_TTL_S } from '../store/tickets.ts';
import { getComponentToken } from '../store/tokens.ts';
import { isRateLimited, WeChatApiError, WeChatNetworkError, WeChatProtocolError } from '../wechat/errors.ts';
import { sharedAuthorizerList } from './authorizer-list.ts';
import { refreshAuthorizerTokenIfDue } from './authorizer-token.ts';
import { refreshComponentTokenIfDue, runComponentToken } from './component-token.ts';
import { AuthorizerUnauthorizedError, NeedsReauthError, TokenServiceError } from './errors.ts';

/** The schedule's period (serverless.yml `rate(5 minutes)`): a token must survive until the next run. */
export const SCHEDULE_INTERVAL_S = 300;
/** Margin beyond the next run, so a late or failed run still leaves callers a valid token. */
export const REFRESH_WINDOW_S = 600;
/** Stop taking new work this long before the Lambda timeout: one refresh's worst case (timeouts + retries). */
export const DEADLINE_SAFETY_MS = 20_000;
/** A missing ticket is reported at least this old, so a ticket-age alarm fires (a stored one expires at 12 h). */
export const TICKET_MISSING_AGE_S = TICKET_TTL_S;

export type RefreshDeps = WeChatDeps & { readonly metrics?: Metrics };

/** One partition of the schedule: a shard, or the partition of profiles scheduled before the sharding. */
export type DueShard = DueQuery['shard'];
/** Every partition of the schedule: what one run covers, alone or spread over its workers. */
export const ALL_SHARDS: readonly DueShard[] = [...Array.from({ length: DUE_SHARDS }, (_, i) => i), 'unsharded'];
/** The most workers a run can use: one per shard. */
export const MAX_REFRESH_WORKERS = DUE_SHARDS;

/** The schedule's partitions dealt round-robin over `workers` groups (the unsharded one to the first). */
export const shardGroups = (workers: number): DueShard[][] => {
  const n = Math.min(Math.max(1, Math.floor(workers)), MAX_REFRESH_WORKERS);
  const groups: DueShard[][] = Array.from({ length: n }, () => []);
  for (const [i, shard] of ALL_SHARDS.entries()) groups[shard === 'unsharded' ? 0 : i % n]?.push(shard);
  return groups;
};

/**
 * Starts a worker run of the same function over `shards` (the deployed function invokes itself asynchronously:
 * functions/refresh/handler.ts, lib/runtime/self-invoke.ts). Resolves once the invocation is accepted, not when
 * the worker is done.
 */
export type StartWorker = (shards: readonly DueShard[], dueBefore: number) => Promise<void>;

export interface RefreshOptions {
  /**
   * The deadline, as time left in ms: no new account is started once it returns 0 or less. The handler passes
   * the Lambda's remaining time minus DEADLINE_SAFETY_MS; without it the run goes through everything due.
   */
  readonly timeLeftMs?: () => number;
  /** Parallel refreshes; default config.refreshConcurrency. */
  readonly concurrency?: number;
  readonly pageSize?: number;
  /**
   * A worker's part of a run: only these partitions of the schedule, and no component token step (the run
   * that started it did that). Default: the whole run, every partition, the component token first.
   */
  readonly worker?: { readonly shards: readonly DueShard[]; readonly dueBefore: number };
  /**
   * Spread the whole run over this many workers (shardGroups): the run keeps the first group and starts the
   * others with `startWorker`; a group whose start fails is worked by this run itself. Default 1: no workers.
   */
  readonly workers?: number;
  readonly startWorker?: StartWorker;
}

export type ComponentOutcome = 'refreshed' | 'fresh' | 'leased' | 'failed';

export interface RefreshSummary {
  /** `worker`: a worker run, which leaves the component token to the run that started it. */
  readonly component: ComponentOutcome | 'worker';
  /** The schedule partitions this run read itself. */
  shards: number;
  /** Worker runs started for the other partitions, and starts that failed (their partitions were read here). */
  readonly workers: { started: number; failedToStart: number };
  /** Accounts read from the schedule (due index) this run. */
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
  /**
   * Set when WeChat answered 45009 (a daily quota is used up): the run stopped making WeChat calls (the circuit
   * breaker), every account not yet started stays due for the next run, and clear_quota is the operator's fix.
   */
  circuitOpen?: { readonly errcode: number; readonly api: string };
  /** Walks of api_get_authorizer_list this run (0, or 1 shared by every 61023 recovery). */
  authorizerListWalks: number;
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
  let quotaHit: WeChatApiError | undefined;
  try {
    outcome = await refreshComponentTokenIfDue(deps, { dueBefore });
  } catch (error) {
    deps.logger.error('component_token.refresh_failed', { componentAppId, errcode: failureKey(error) }, error);
    outcome = 'failed';
    quotaHit = rateLimit(error);
  }
  const token = await getComponentToken(deps, componentAppId);
  const dimensions = { ComponentAppId: componentAppId };
  metrics.put({ TicketAgeSeconds: ticket ? Math.max(0, now - ticket.createTime) : TICKET_MISSING_AGE_S }, dimensions);
  // Rolled up too: the component token alarms (infra/alarms.yml) watch the dimensionless metrics.
  const remaining = token ? token.expiresAt - nowSeconds(deps.clock) : 0;
  metrics.put({ ComponentTokenRemainingSeconds: remaining, ComponentTokenRefreshFailed: outcome === 'failed' ? 1 : 0 }, dimensions, { rollup: true });
  return { outcome, usable: outcome !== 'failed' || token !== undefined, quotaHit };
};

/** The WeChat 45009 (or 45011) behind a refresh failure, if that is what it was. */
const rateLimit = (error: unknown): WeChatApiError | undefined => {
  const inner = error instanceof AuthorizerUnauthorizedError && error.cause ? error.cause : error;
  return inner instanceof WeChatApiError && isRateLimited(inner) ? inner : undefined;
};

/** Opens the run's circuit breaker: no account is started after this; the ones in flight finish. */
const openCircuit = (deps: RefreshDeps, summary: RefreshSummary, hit: WeChatApiError, authorizerAppid?: string): void => {
  if (summary.circuitOpen) return;
  summary.circuitOpen = { errcode: hit.errcode, api: hit.api };
  deps.logger.error('refresh.circuit_open', { errcode: hit.errcode, api: hit.api, authorizerAppid, fix: 'clear_quota, or wait for the daily reset' });
};

/**
 * What is due by `now` in `shards`: one page of every partition at a time, read together, handed out
 * interleaved (the first of each page, then the second of each, …) so that a run cut short by its deadline or
 * its circuit breaker has served the most overdue accounts of every partition; counts what it reads and what the
 * reads cost.
 */
async function* dueAppids(deps: RefreshDeps, summary: RefreshSummary, now: number, shards: readonly DueShard[], pageSize?: number) {
  let open: { shard: DueShard; cursor?: DueCursor }[] = shards.map((shard) => ({ shard }));
  while (open.length > 0) {
    const pages = await Promise.all(
      open.map(async (part) => ({
        part,
        page: await listDueAuthorizers(deps, {
          dueBefore: now,
          shard: part.shard,
          ...(part.cursor ? { exclusiveStartKey: part.cursor } : {}),
          ...(pageSize ? { pageSize } : {}),
        }),
      })),
    );
    for (const { page } of pages) {
      summary.due += page.appids.length;
      summary.consumedCapacity += page.consumedCapacity;
    }
    open = pages.flatMap(({ part, page }) => (page.lastKey ? [{ shard: part.shard, cursor: page.lastKey }] : []));
    const longest = Math.max(0, ...pages.map(({ page }) => page.appids.length));
    for (let i = 0; i < longest; i += 1) {
      for (const { page } of pages) {
        const appid = page.appids[i];
        if (appid !== undefined) yield appid;
      }
    }
  }
}

const countFailure = (deps: RefreshDeps, summary: RefreshSummary, appid: string, error: unknown): void => {
  const hit = rateLimit(error);
  if (hit) openCircuit(deps, summary, hit, appid);
  // 61003 surfaces as AuthorizerUnauthorizedError (the token layer marked the account unauthorized).
  const key = failureKey(error instanceof AuthorizerUnauthorizedError && error.cause ? error.cause : error);
  summary.failed[key] = (summary.failed[key] ?? 0) + 1;
  // `Token Refresh Failed` (docs/architecture.md §6) is announced by the refresh itself, with the failure it records
  // on the profile (authorizer-refresh.ts recordLastingFailure); the run only counts and logs.
  const fields = { authorizerAppid: appid, errcode: key };
  // 45009: this account's daily quota is gone; calling again today only deepens it (clear_quota is the fix).
  if (key === '45009') deps.logger.error('authorizer_token.quota_exhausted', fields, error);
  else if (key === '-1') deps.logger.warn('authorizer_token.busy_retry_next_run', fields, error);
  else deps.logger.warn('authorizer_token.refresh_failed', fields, error);
};

/**
 * Refreshes one account and records the outcome; a failure is classified, logged and counted, never thrown.
 * An account that is not authorized is taken off the schedule (refreshAuthorizerTokenIfDue), one found fresh
 * moves its schedule to its token; a failed account stays due, so the next run tries it again.
 */
const refreshOne = async (deps: RefreshDeps, summary: RefreshSummary, appid: string, run: RunShared) => {
  try {
    const result = await refreshAuthorizerTokenIfDue(deps, appid, run);
    if (result === 'refreshed') summary.refreshed += 1;
    else summary.skipped[result] += 1;
  } catch (error) {
    countFailure(deps, summary, appid, error);
  }
};

type RunShared = Parameters<typeof refreshAuthorizerTokenIfDue>[2];

/**
 * Workers pull appids from the shared page iterator (async generators queue concurrent `next()` calls), so at
 * most `concurrency` refreshes run and pages are read only as fast as work is taken.
 */
const sweep = async (deps: RefreshDeps, summary: RefreshSummary, now: number, shards: readonly DueShard[], options: RefreshOptions) => {
  const listed = sharedAuthorizerList(deps);
  const run: RunShared = { dueBefore: now + REFRESH_LEAD_S, listed, component: runComponentToken(deps) };
  summary.shards = shards.length;
  const appids = dueAppids(deps, summary, now, shards, options.pageSize);
  const hasTime = () => !summary.circuitOpen && (options.timeLeftMs ? options.timeLeftMs() > 0 : true);
  let taken = 0;
  const worker = async (): Promise<void> => {
    while (hasTime()) {
      const next = await appids.next();
      if (next.done) return;
      if (!hasTime()) break;
      taken += 1;
      await refreshOne(deps, summary, next.value, run);
    }
    summary.stoppedEarly = true;
  };
  const concurrency = Math.max(1, options.concurrency ?? deps.config.refreshConcurrency);
  await Promise.all(Array.from({ length: concurrency }, worker));
  await appids.return(undefined);
  summary.deferred = summary.due - taken;
  summary.authorizerListWalks = listed.walks();
};

const emitSummary = (deps: RefreshDeps, metrics: Metrics, summary: RefreshSummary): void => {
  const skipped = summary.skipped.fresh + summary.skipped.leased + summary.skipped.inactive + summary.deferred;
  metrics.put({
    RefreshDue: summary.due,
    AuthorizerRefreshed: summary.refreshed,
    RefreshSkipped: skipped,
    NeedsReauth: summary.failed['61023'] ?? 0,
    RefreshCircuitOpen: summary.circuitOpen ? 1 : 0,
    RefreshWorkersNotStarted: summary.workers.failedToStart,
  });
  for (const [errcode, count] of Object.entries(summary.failed)) metrics.put({ AuthorizerRefreshFailed: count }, { Errcode: errcode });
  deps.logger.info('refresh.completed', {
    component: summary.component,
    shards: summary.shards,
    workersStarted: summary.workers.started,
    workersFailedToStart: summary.workers.failedToStart,
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
    circuitOpen: summary.circuitOpen ? `${summary.circuitOpen.errcode} ${summary.circuitOpen.api}` : undefined,
    authorizerListWalks: summary.authorizerListWalks,
  });
};

/**
 * Starts a worker run for every group but the first; returns the partitions this run must read itself: the
 * first group and any group whose worker could not be started (so a failed start never leaves shards unread).
 */
const startWorkers = async (deps: RefreshDeps, summary: RefreshSummary, now: number, options: RefreshOptions): Promise<DueShard[]> => {
  const start = options.startWorker;
  const [own = [], ...others] = shardGroups(start ? (options.workers ?? 1) : 1);
  if (!start) return own;
  const mine = [...own];
  await Promise.all(
    others.map(async (shards) => {
      try {
        await start(shards, now);
        summary.workers.started += 1;
      } catch (error) {
        summary.workers.failedToStart += 1;
        mine.push(...shards);
        deps.logger.error('refresh.worker_not_started', { shards: shards.join(','), fix: 'this run reads those shards itself' }, error);
      }
    }),
  );
  return mine;
};

const emptySummary = (component: RefreshSummary['component']): RefreshSummary => ({
  component,
  shards: 0,
  workers: { started: 0, failedToStart: 0 },
  due: 0,
  refreshed: 0,
  skipped: { fresh: 0, leased: 0, inactive: 0 },
  failed: {},
  deferred: 0,
  consumedCapacity: 0,
  durationMs: 0,
  stoppedEarly: false,
  authorizerListWalks: 0,
});

/**
 * One scheduled run: the component token, then every authorizer token due before the next run plus
 * REFRESH_WINDOW_S, from every partition of the schedule, spread over `options.workers` runs when asked; or,
 * with `options.worker`, a worker's part of such a run. Returns (and logs, and emits as metrics) what it did.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/api_authorizer_token.html
 */
export const runRefresh = async (deps: RefreshDeps, options: RefreshOptions = {}): Promise<RefreshSummary> => {
  const started = performance.now();
  const metrics = deps.metrics ?? createMetrics({ clock: deps.clock });
  let summary: RefreshSummary;
  if (options.worker) {
    // The run that started this worker refreshed the component token and fixed the moment what is due is read at.
    summary = emptySummary('worker');
    await sweep(deps, summary, options.worker.dueBefore, options.worker.shards, options);
  } else {
    const now = nowSeconds(deps.clock);
    const component = await refreshComponent(deps, metrics, now + REFRESH_LEAD_S);
    summary = emptySummary(component.outcome);
    if (component.quotaHit) openCircuit(deps, summary, component.quotaHit);
    if (summary.circuitOpen) deps.logger.error('refresh.authorizers_skipped', { componentAppId: deps.config.componentAppId, reason: 'circuit open' });
    else if (component.usable) await sweep(deps, summary, now, await startWorkers(deps, summary, now, options), options);
    else deps.logger.error('refresh.authorizers_skipped', { componentAppId: deps.config.componentAppId, reason: 'no component token' });
  }
  summary.durationMs = Math.round(performance.now() - started);
  emitSummary(deps, metrics, summary);
  return summary;
};
