// What happens to stream work that fails (docs/reliability.md): it never holds up the records behind it. The
// record is acknowledged and its failure stored by event id (lib/store/failures.ts) with the time of its next
// attempt, backing off from RETRY_BASE_S to RETRY_MAX_DELAY_S, so an outage of minutes or hours does not use
// the attempts up, and one account failing forever costs the others nothing. The `authorized` function's
// schedule runs the due attempts (retryDueFailures). Work that can never succeed, or that used up MAX_ATTEMPTS
// or MAX_AGE_S, is dropped: an error line, the StreamEventDropped metric (alarmed), and `redrive` replays it.
import { nowSeconds } from '../kernel/clock.ts';
import { FUNCTION_NEEDS_MS } from '../kernel/limits.ts';
import type { Logger } from '../kernel/logger.ts';
import { createMetrics, type Metrics } from '../kernel/metrics.ts';
import type { StoredEvent } from '../store/events.ts';
import { claimRetry, getFailure, listFailures, resolveFailure, saveFailure, type EventFailure, type FailureCause } from '../store/failures.ts';
import type { StoreDeps } from '../store/keys.ts';
import { WeChatApiError } from '../wechat/errors.ts';

/** The first retry waits a minute; each later one twice as long, at most RETRY_MAX_DELAY_S. */
export const RETRY_BASE_S = 60;
export const RETRY_MAX_DELAY_S = 30 * 60;
/** Attempts (the first delivery included) before the work is dropped: 12 span about four hours. */
export const MAX_ATTEMPTS = 12;
/** No attempt is made past this age of the first failure (an authorization code is long dead by then). */
export const MAX_AGE_S = 6 * 60 * 60;
/**
 * A claimed attempt that died (the function timed out) is due again after this: one record's worst case in the
 * `authorized` function (lib/kernel/limits.ts FUNCTION_NEEDS_MS.authorized, 161 s) and a sweep's minute more, so
 * a slow attempt that is still running is never claimed again by the next sweep.
 */
export const RETRY_CLAIM_S = Math.ceil(FUNCTION_NEEDS_MS.authorized / 1000) + 60;

export type FailureDeps = StoreDeps & { readonly logger: Logger; readonly metrics?: Metrics };

/** Handles one event; throws PermanentEventError (lib/stream/dispatch.ts) for what a retry cannot fix. */
export type Work = (event: StoredEvent) => Promise<void>;

/** The wait before attempt `attempts + 1`. */
export const retryDelayS = (attempts: number): number => Math.min(RETRY_BASE_S * 2 ** Math.max(0, attempts - 1), RETRY_MAX_DELAY_S);

export const causeOf = (error: unknown): FailureCause => {
  if (error instanceof WeChatApiError) return { name: error.name, message: error.message, errcode: error.errcode, api: error.api };
  const e = error instanceof Error ? error : new Error(String(error));
  return { name: e.name, message: e.message.slice(0, 500) };
};

const logFields = (event: StoredEvent, failure: EventFailure) => ({
  eventId: event.id,
  kind: event.kind,
  infoType: event.infoType,
  // The account id makes a failed authorization traceable to its owner.
  authorizerAppid: event.authorizerAppid ?? event.payload.appid,
  attempts: failure.attempts,
  nextAttemptAt: failure.nextAttemptAt,
});

/**
 * Records a failed attempt of `event`: retrying with the next attempt's time, or dropped when `permanent` or out
 * of attempts or age. `previous` is the failure as it stood before this attempt (read when not given).
 */
export const recordFailedAttempt = async (
  deps: FailureDeps,
  event: StoredEvent,
  error: unknown,
  options: { permanent: boolean; previous?: EventFailure | undefined },
): Promise<EventFailure> => {
  const previous = options.previous ?? (await getFailure(deps, event.id));
  const now = nowSeconds(deps.clock);
  const attempts = (previous?.state === 'resolved' ? 0 : (previous?.attempts ?? 0)) + 1;
  const firstFailedAt = previous && previous.state !== 'resolved' ? previous.firstFailedAt : now;
  const nextAttemptAt = now + retryDelayS(attempts);
  const exhausted = attempts >= MAX_ATTEMPTS || nextAttemptAt - firstFailedAt > MAX_AGE_S;
  const dropped = options.permanent || exhausted;
  const failure: EventFailure = {
    eventId: event.id,
    state: dropped ? 'dropped' : 'retrying',
    event,
    attempts,
    firstFailedAt,
    lastFailedAt: now,
    ...(dropped ? {} : { nextAttemptAt }),
    cause: causeOf(error),
  };
  await saveFailure(deps, failure);
  const metrics = deps.metrics ?? createMetrics({ clock: deps.clock });
  if (dropped) {
    metrics.put({ StreamEventDropped: 1 }, { Kind: event.kind }, { rollup: true });
    deps.logger.error('event.dropped', { ...logFields(event, failure), reason: options.permanent ? 'permanent' : 'retries_exhausted' }, error);
  } else {
    metrics.put({ EventRetryScheduled: 1 });
    deps.logger.warn('event.retry_scheduled', logFields(event, failure), error);
  }
  return failure;
};

export interface RetrySummary {
  due: number;
  succeeded: number;
  failed: number;
  dropped: number;
  /** Due attempts left for the next sweep because the deadline came. */
  deferred: number;
}

/**
 * Runs `work` once more for a failure: resolved when it succeeds, the next attempt (or the drop) recorded when it
 * throws. `isPermanent` classifies the error, as the stream dispatch does.
 */
export const attemptAgain = async (
  deps: FailureDeps,
  failure: EventFailure,
  work: Work,
  isPermanent: (error: unknown) => boolean,
): Promise<{ ok: true } | { ok: false; failure: EventFailure }> => {
  try {
    await work(failure.event);
  } catch (error) {
    return { ok: false, failure: await recordFailedAttempt(deps, failure.event, error, { permanent: isPermanent(error), previous: failure }) };
  }
  await resolveFailure(deps, failure.eventId);
  deps.logger.info('event.recovered', { eventId: failure.eventId, kind: failure.event.kind, attempts: failure.attempts + 1 });
  return { ok: true };
};

/** One sweep of the retries that are due (the `authorized` function's schedule): each taken by one sweep only. */
export const retryDueFailures = async (
  deps: FailureDeps,
  workFor: (event: StoredEvent) => Work,
  isPermanent: (error: unknown) => boolean,
  options: { timeLeftMs?: () => number; minTimeLeftMs?: number } = {},
): Promise<RetrySummary> => {
  const summary: RetrySummary = { due: 0, succeeded: 0, failed: 0, dropped: 0, deferred: 0 };
  const hasTime = () => !options.timeLeftMs || options.timeLeftMs() > (options.minTimeLeftMs ?? 0);
  let cursor: Record<string, unknown> | undefined;
  do {
    const page = await listFailures(deps, 'retrying', { dueBefore: nowSeconds(deps.clock), ...(cursor ? { cursor } : {}) });
    summary.due += page.eventIds.length;
    cursor = page.cursor;
    for (const eventId of page.eventIds) {
      if (!hasTime()) {
        summary.deferred += 1;
        continue;
      }
      const failure = await getFailure(deps, eventId);
      const now = nowSeconds(deps.clock);
      if (failure?.state !== 'retrying' || (failure.nextAttemptAt ?? 0) > now) continue;
      if (!(await claimRetry(deps, failure, now + RETRY_CLAIM_S))) continue;
      const outcome = await attemptAgain(deps, failure, workFor(failure.event), isPermanent);
      if (outcome.ok) summary.succeeded += 1;
      else if (outcome.failure.state === 'dropped') summary.dropped += 1;
      else summary.failed += 1;
    }
  } while (cursor && hasTime());
  if (summary.due > 0) deps.logger.info('event.retries_swept', { ...summary });
  return summary;
};
