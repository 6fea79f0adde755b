// Delivery of the transactional outbox (docs/events.md "Delivery"): the table's stream hands the `events`
// function every newly inserted OUTBOX item, and each becomes one entry of PutEvents on the platform's bus.
// At least once: a record whose entry was not accepted is reported back (ReportBatchItemFailures) and comes
// again, with the same eventId, so consumers deduplicate. Nothing is lost quietly: an item that can never be
// delivered (malformed, or over EventBridge's size limit) is logged at error level and counted (EventsUndeliverable).
import type { PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { EventsDeps } from '../runtime/events-deps.ts';
import { EVENT_SOURCE } from './catalogue.ts';

/** PutEvents takes at most 10 entries per call… */
export const PUT_EVENTS_MAX_ENTRIES = 10;
/** …of at most 256 KB together, counted the way EventBridge counts (entrySize). */
export const PUT_EVENTS_MAX_BYTES = 256 * 1024;

/** A stream record reduced to its sequence number (the batch item identifier) and unmarshalled NEW_IMAGE. */
export interface OutboxRecord {
  readonly sequenceNumber: string;
  readonly image: Record<string, unknown> | undefined;
}

export interface DeliveryResult {
  readonly batchItemFailures: { itemIdentifier: string }[];
}

interface Pending {
  readonly sequenceNumber: string;
  readonly eventId: string;
  readonly detailType: string;
  readonly entry: PutEventsRequestEntry;
  readonly size: number;
}

const utf8 = (value: string | undefined): number => (value ? Buffer.byteLength(value, 'utf8') : 0);

/** EventBridge's entry size: 14 bytes for Time, plus Source, DetailType, Detail and each Resource in UTF-8. */
export const entrySize = (entry: PutEventsRequestEntry): number =>
  (entry.Time ? 14 : 0) + utf8(entry.Source) + utf8(entry.DetailType) + utf8(entry.Detail) + (entry.Resources ?? []).reduce((n, r) => n + utf8(r), 0);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The entry for one OUTBOX image, or why it can never be one. */
const toPending = (deps: EventsDeps, record: OutboxRecord): Pending | string => {
  const image = record.image;
  if (!image) return 'the stream record has no NEW_IMAGE';
  const { pk, sk, eventId, detailType, detail, occurredAt } = image;
  if (typeof pk !== 'string' || !pk.startsWith('OUTBOX#') || sk !== 'OUTBOX') return 'not an OUTBOX item';
  if (typeof eventId !== 'string' || eventId === '' || pk !== `OUTBOX#${eventId}`) return 'eventId missing or not the key';
  if (typeof detailType !== 'string' || detailType === '') return 'detailType missing';
  if (!isObject(detail)) return 'detail is not an object';
  if (typeof occurredAt !== 'number' || !Number.isFinite(occurredAt)) return 'occurredAt missing';
  const time = new Date(occurredAt);
  // The envelope comes from the item itself and wins over anything in `detail` (docs/events.md "Envelope");
  // the subject follows it, then the type's own fields.
  const envelope = { eventId, componentAppId: deps.config.componentAppId, occurredAt: time.toISOString() };
  const subject = { authorizerAppid: detail.authorizerAppid, tenant: detail.tenant };
  const entry: PutEventsRequestEntry = {
    EventBusName: deps.eventBusName,
    Source: EVENT_SOURCE,
    DetailType: detailType,
    Detail: JSON.stringify(Object.assign({}, envelope, subject, detail, envelope)),
    Time: time,
  };
  const size = entrySize(entry);
  if (size > PUT_EVENTS_MAX_BYTES) return `the entry is ${size} bytes, over EventBridge's ${PUT_EVENTS_MAX_BYTES}`;
  return { sequenceNumber: record.sequenceNumber, eventId, detailType, entry, size };
};

/** Consecutive groups of at most 10 entries and 256 KB, in stream order. */
export const chunk = <T extends { readonly size: number }>(items: readonly T[]): T[][] => {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    if (current.length === PUT_EVENTS_MAX_ENTRIES || (current.length > 0 && bytes + item.size > PUT_EVENTS_MAX_BYTES)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += item.size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
};

/** Puts one chunk; returns the records whose entries were not accepted (all of them when the call failed). */
const putChunk = async (deps: EventsDeps, pending: readonly Pending[]): Promise<Pending[]> => {
  let answer: Awaited<ReturnType<EventsDeps['putEvents']>>;
  try {
    answer = await deps.putEvents(pending.map((p) => p.entry));
  } catch (error) {
    deps.logger.warn('events.put_failed', { entries: pending.length, eventIds: pending.map((p) => p.eventId) }, error);
    return [...pending];
  }
  // Per entry, in request order: an entry with an ErrorCode (or, defensively, no EventId) was not taken.
  const failed = pending.filter((_, i) => !answer.entries[i]?.EventId || answer.entries[i]?.ErrorCode);
  for (const [i, p] of pending.entries()) {
    const result = answer.entries[i];
    if (failed.includes(p)) {
      deps.logger.warn('events.entry_failed', {
        eventId: p.eventId,
        detailType: p.detailType,
        failure: result?.ErrorCode,
        error: result?.ErrorMessage,
      });
    } else deps.logger.info('events.delivered', { eventId: p.eventId, detailType: p.detailType });
  }
  return failed;
};

/**
 * Delivers a batch of OUTBOX stream records in order and names the records Lambda must deliver again: every
 * record of a chunk that was not accepted, and every record after the first such chunk (not sent, so a retry
 * re-sends as little as possible; Lambda resumes from the lowest reported record in any case).
 */
export const deliverOutboxRecords = async (deps: EventsDeps, records: readonly OutboxRecord[]): Promise<DeliveryResult> => {
  const pending: Pending[] = [];
  let dropped = 0;
  for (const record of records) {
    const item = toPending(deps, record);
    if (typeof item === 'string') {
      dropped += 1;
      deps.logger.error('events.dropped', { sequenceNumber: record.sequenceNumber, reason: item, eventId: String(record.image?.eventId ?? '') });
    } else pending.push(item);
  }
  const retry: Pending[] = [];
  let delivered = 0;
  for (const group of chunk(pending)) {
    if (retry.length > 0) {
      retry.push(...group);
      continue;
    }
    const failed = await putChunk(deps, group);
    delivered += group.length - failed.length;
    retry.push(...failed);
  }
  deps.metrics.put({ EventsDelivered: delivered, EventDeliveryFailed: retry.length, EventsUndeliverable: dropped });
  return { batchItemFailures: retry.map((p) => ({ itemIdentifier: p.sequenceNumber })) };
};
