// The transactional outbox (docs/architecture.md §6): an event the operator's services hear is written in the
// same DynamoDB transaction as the state change it reports, so a crash between "stored" and "published" loses
// nothing and invents nothing. The table's stream carries each new OUTBOX item to the delivery function,
// which puts it on the EventBridge bus. Callers add `outboxPut(...)` to their own TransactWriteItems.
import { createHash } from 'node:crypto';
import { PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { cancelledAt, conditionMet } from './table.ts';
import type { StoreDeps } from './keys.ts';

/** Kept for redelivery and inspection, then deleted by TTL. */
export const OUTBOX_TTL_S = 7 * 24 * 60 * 60;

/** One event as stored: `detail` carries no token, ticket, code or secret, ever. */
export interface OutboxEvent {
  /** Stable for one change, whatever retries write it: consumers deduplicate on it. */
  readonly eventId: string;
  /** One of the catalogue's DetailTypes (docs/events.md). */
  readonly detailType: string;
  /** The event's fields besides the envelope ones the delivery adds (eventId, componentAppId, occurredAt). */
  readonly detail: Readonly<Record<string, unknown>>;
  /** Epoch milliseconds of the change. */
  readonly occurredAt: number;
}

export const outboxKey = (eventId: string) => ({ pk: `OUTBOX#${eventId}`, sk: 'OUTBOX' });

/**
 * An id that is the same every time the same change is written: derived from what identifies the change
 * (its type, its subject and the version or time that makes it one change rather than another).
 */
export const stableEventId = (...parts: readonly (string | number)[]): string =>
  createHash('sha256').update(parts.join('\u0000'), 'utf8').digest('hex').slice(0, 32);

/**
 * The Put of one outbox item, for a TransactWriteItems beside the state change. Unconditional on purpose: a
 * retried transaction writes the same id with the same content, which the stream sees as MODIFY, not INSERT,
 * and delivery only takes INSERTs, so a change is delivered once however often it is written.
 */
export const outboxPut = (deps: Pick<StoreDeps, 'tableName'>, event: OutboxEvent) => ({
  Put: {
    TableName: deps.tableName,
    Item: {
      ...outboxKey(event.eventId),
      eventId: event.eventId,
      detailType: event.detailType,
      detail: event.detail,
      occurredAt: event.occurredAt,
      ttl: Math.floor(event.occurredAt / 1000) + OUTBOX_TTL_S,
    },
  },
});

/**
 * What a state change announces, computed by the capability that asks for the change from the state the write
 * is about to replace (the store calls it inside its read-check-write loop, so the events always describe the
 * write that commits). The store never decides which events exist: it only writes what it is given.
 */
export type Announce<C> = (change: C) => readonly OutboxEvent[];

/** The outbox Puts of `events`, for a TransactWriteItems beside the change. */
export const outboxPuts = (deps: Pick<StoreDeps, 'tableName'>, events: readonly OutboxEvent[] = []) => events.map((e) => outboxPut(deps, e));

/**
 * One conditional update and the outbox items announcing it, as one transaction; just the update when there is
 * nothing to announce. True if applied, false if its condition failed; any other failure throws.
 */
export const updateWithEvents = async (
  deps: Pick<StoreDeps, 'doc' | 'tableName'>,
  update: ConstructorParameters<typeof UpdateCommand>[0] & { readonly UpdateExpression: string },
  events: readonly OutboxEvent[] = [],
): Promise<boolean> => {
  if (events.length === 0) return conditionMet(() => deps.doc.send(new UpdateCommand(update)));
  try {
    await deps.doc.send(new TransactWriteCommand({ TransactItems: [{ Update: update }, ...outboxPuts(deps, events)] }));
    return true;
  } catch (error) {
    if (cancelledAt(error).includes(0)) return false;
    throw error;
  }
};

/**
 * Events that report no state change of their own (a push whose only effect is the news it carries, e.g. a
 * failed fast registration): written alone. Writing the same ids again is a MODIFY, never a second delivery.
 */
export const putEvents = async (deps: Pick<StoreDeps, 'doc' | 'tableName'>, events: readonly OutboxEvent[]): Promise<void> => {
  for (const event of events) await deps.doc.send(new PutCommand(outboxPut(deps, event).Put));
};
