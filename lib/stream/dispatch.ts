// The `authorized` function's dispatch point: EVENT items arrive from the table's stream in batches and go to
// one handler per kind. Every record of a batch is processed, whatever happened to the one before it: a
// failure is stored by event id with its next attempt (lib/stream/failures.ts) and the record acknowledged,
// so one account failing does not hold up the others. Only records whose failure could not be stored (the
// table itself failing) are reported back for redelivery (ReportBatchItemFailures). Ordering between one
// account's grant and revocation does not rest on delivery order: timestamps and the REVOCATION marker guard it
// (lib/store/grants.ts, lib/store/authorizers.ts). Records that can never succeed (an unknown kind, a code
// WeChat refused) are dropped at once: logged, counted (StreamEventDropped) and kept for `redrive`.
import { AppError } from '../kernel/errors.ts';
import { createMetrics } from '../kernel/metrics.ts';
import { eventFromStreamImage, EventShapeError, type EventKind, type StoredEvent } from '../store/events.ts';
import { recordFailedAttempt, type FailureDeps } from './failures.ts';

/** Handles one EVENT of its kind. Throw PermanentEventError for what a retry cannot fix; anything else is retried. */
export type EventHandler<D> = (deps: D, event: StoredEvent) => Promise<void>;

/** One handler per kind; a kind without a handler is a permanent failure (dropped, never retried). */
export type EventHandlers<D> = Readonly<Partial<Record<EventKind, EventHandler<D>>>>;

/** This event cannot succeed however often it is retried. */
export class PermanentEventError extends AppError {}

/** A stream record reduced to what dispatch needs: its sequence number and the unmarshalled NEW_IMAGE. */
export interface EventRecord {
  readonly sequenceNumber: string;
  readonly image: Record<string, unknown> | undefined;
}

export interface BatchResult {
  readonly batchItemFailures: { itemIdentifier: string }[];
}

export interface DispatchOptions {
  /** The Lambda's remaining time in ms; no record is started with RECORD_BUDGET_MS or less left. */
  readonly timeLeftMs?: () => number;
}

/**
 * The most one record usually takes: a wait of up to 20 s for another exchange of the same code, then a few
 * WeChat calls. A record started later could be cut off by the function's timeout, failing the whole batch.
 */
export const RECORD_BUDGET_MS = 25_000;

export const isPermanent = (error: unknown): boolean => error instanceof PermanentEventError || error instanceof EventShapeError;

/** The handler for an event, as the work a failure retries; an event of a kind without one fails permanently. */
export const workFor =
  <D>(deps: D, handlers: EventHandlers<D>) =>
  (event: StoredEvent) =>
  async (): Promise<void> => {
    const handler = handlers[event.kind];
    if (!handler) throw new PermanentEventError(`no handler for events of kind ${event.kind}`);
    await handler(deps, event);
  };

/** 'done' (handled, or its failure stored) or 'unrecorded' (failed and its failure could not be stored: redeliver). */
const handleOne = async <D>(deps: D & FailureDeps, handlers: EventHandlers<D>, record: EventRecord): Promise<'done' | 'unrecorded'> => {
  let event: StoredEvent;
  try {
    if (!record.image) throw new PermanentEventError('the stream record has no NEW_IMAGE');
    event = eventFromStreamImage(record.image);
  } catch (error) {
    // Nothing to replay: the record is not an event this code can read.
    (deps.metrics ?? createMetrics({ clock: deps.clock })).put({ StreamEventDropped: 1 }, { Kind: 'malformed' }, { rollup: true });
    deps.logger.error('event.dropped', { sequenceNumber: record.sequenceNumber, reason: 'malformed' }, error);
    return 'done';
  }
  try {
    await workFor(deps, handlers)(event)();
    return 'done';
  } catch (error) {
    try {
      await recordFailedAttempt(deps, event, error, { permanent: isPermanent(error) });
      return 'done';
    } catch (lost) {
      deps.logger.error('event.failure_not_recorded', { sequenceNumber: record.sequenceNumber, eventId: event.id, kind: event.kind }, lost);
      return 'unrecorded';
    }
  }
};

/**
 * Processes the records of a batch in order and names those Lambda should deliver again. Lambda resumes a stream
 * from the lowest record reported, delivering every later one again too; so at the first record that must be
 * redelivered (the deadline, or a failure that could not be recorded) the rest are not started but reported.
 */
export const processEventRecords = async <D>(
  deps: D & FailureDeps,
  handlers: EventHandlers<D>,
  records: readonly EventRecord[],
  options: DispatchOptions = {},
): Promise<BatchResult> => {
  const failed: string[] = [];
  for (const [index, record] of records.entries()) {
    if (options.timeLeftMs && options.timeLeftMs() <= RECORD_BUDGET_MS) {
      // Not started: Lambda delivers these again (from the first of them), in a fresh invocation.
      const left = records.slice(index).map((r) => r.sequenceNumber);
      deps.logger.warn('stream.deadline', { deferred: left.length });
      failed.push(...left);
      break;
    }
    if ((await handleOne(deps, handlers, record)) === 'unrecorded') {
      failed.push(...records.slice(index).map((r) => r.sequenceNumber));
      break;
    }
  }
  return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
};
