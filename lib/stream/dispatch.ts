// The `authorized` function's dispatch point: EVENT items arrive from the table's stream in batches and go
// to one handler per kind. Failures are reported the way Lambda's ReportBatchItemFailures expects: the
// first record that failed with a retryable error, and every record after it (so the retry replays them in
// order: an `unauthorized` never overtakes the `authorized` before it). Records that can never succeed
// (malformed item, unknown kind, a code WeChat refused) are logged and skipped, not retried.
import { AppError } from '../kernel/errors.ts';
import type { Logger } from '../kernel/logger.ts';
import { eventFromStreamImage, EventShapeError, type EventKind, type StoredEvent } from '../store/events.ts';

/** Handles one EVENT of its kind. Throw PermanentEventError for what a retry cannot fix; anything else is retried. */
export type EventHandler<D> = (deps: D, event: StoredEvent) => Promise<void>;

/** One handler per kind; a kind without a handler is a permanent failure (logged, never retried). */
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

const isPermanent = (error: unknown): boolean => error instanceof PermanentEventError || error instanceof EventShapeError;

const handleOne = async <D>(deps: D & { logger: Logger }, handlers: EventHandlers<D>, record: EventRecord): Promise<'done' | 'retry'> => {
  let event: StoredEvent | undefined;
  try {
    if (!record.image) throw new PermanentEventError('the stream record has no NEW_IMAGE');
    event = eventFromStreamImage(record.image);
    const handler = handlers[event.kind];
    if (!handler) throw new PermanentEventError(`no handler for events of kind ${event.kind}`);
    await handler(deps, event);
    return 'done';
  } catch (error) {
    // The account id makes a failed authorization traceable to its owner (the error carries api and errcode).
    const authorizerAppid = event?.authorizerAppid ?? event?.payload.appid;
    const fields = { sequenceNumber: record.sequenceNumber, eventId: event?.id, kind: event?.kind, infoType: event?.infoType, authorizerAppid };
    if (isPermanent(error)) {
      deps.logger.error('event.dropped', fields, error);
      return 'done';
    }
    deps.logger.warn('event.retry', fields, error);
    return 'retry';
  }
};

/** Processes a batch in order and names the records Lambda should deliver again. */
export const processEventRecords = async <D>(
  deps: D & { logger: Logger },
  handlers: EventHandlers<D>,
  records: readonly EventRecord[],
): Promise<BatchResult> => {
  for (const [index, record] of records.entries()) {
    if ((await handleOne(deps, handlers, record)) === 'retry') {
      return { batchItemFailures: records.slice(index).map((r) => ({ itemIdentifier: r.sequenceNumber })) };
    }
  }
  return { batchItemFailures: [] };
};
