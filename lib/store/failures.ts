// Failed stream work, findable by event id: FAILURE#<eventId> / FAILURE holds the event (a copy, so it can be
// replayed after the EVENT item's TTL), the last error, the attempts and, while it is retried, when the next
// attempt is due. gsi1 indexes it by state: FAILURES#retrying by nextAttemptAt (what the retry sweep takes),
// FAILURES#dropped by the time it was given up on (what an operator redrives). sk is never EVENT, so writing a
// failure never feeds the stream consumer (docs/data-model.md).
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { nowSeconds } from '../kernel/clock.ts';
import { conditionMet } from './table.ts';
import type { StoredEvent } from './events.ts';
import { dueSortKey, failureItemKey, GSI1, type StoreDeps } from './keys.ts';

/** Kept this long after the last attempt (as long as the failure queues keep messages), then TTL removes it. */
export const FAILURE_RETENTION_S = 14 * 24 * 60 * 60;

export type FailureState = 'retrying' | 'dropped' | 'resolved';
const INDEXED = { retrying: 'FAILURES#retrying', dropped: 'FAILURES#dropped' } as const;

/** What went wrong, without any secret: the error's name and message, and WeChat's api and errcode when it answered. */
export interface FailureCause {
  readonly name: string;
  readonly message: string;
  readonly errcode?: number;
  readonly api?: string;
}

export interface EventFailure {
  readonly eventId: string;
  readonly state: FailureState;
  readonly event: StoredEvent;
  /** Attempts that failed so far (the first delivery included). */
  readonly attempts: number;
  /** Epoch seconds. */
  readonly firstFailedAt: number;
  readonly lastFailedAt: number;
  /** Epoch seconds; only while retrying. */
  readonly nextAttemptAt?: number;
  readonly cause: FailureCause;
  /** Epoch seconds; only once resolved. */
  readonly resolvedAt?: number;
}

const indexKeys = (f: EventFailure) => {
  if (f.state === 'retrying') return { gsi1pk: INDEXED.retrying, gsi1sk: dueSortKey(f.nextAttemptAt ?? f.lastFailedAt) };
  if (f.state === 'dropped') return { gsi1pk: INDEXED.dropped, gsi1sk: dueSortKey(f.lastFailedAt) };
  return {};
};

/** Stores the failure as it now stands (replacing what was there: attempts only grow, one writer at a time holds it). */
export const saveFailure = async (deps: StoreDeps, failure: EventFailure): Promise<void> => {
  await deps.doc.send(
    new PutCommand({
      TableName: deps.tableName,
      Item: { ...failureItemKey(failure.eventId), ...failure, ...indexKeys(failure), ttl: failure.lastFailedAt + FAILURE_RETENTION_S },
    }),
  );
};

const toFailure = (item: Record<string, unknown> | undefined): EventFailure | undefined => {
  if (!item || typeof item.eventId !== 'string' || typeof item.event !== 'object') return undefined;
  const { pk: _pk, sk: _sk, gsi1pk: _g, gsi1sk: _s, ttl: _t, ...failure } = item;
  return failure as unknown as EventFailure;
};

/** The failure recorded for an event, or undefined when its work never failed (or the record is past retention). */
export const getFailure = async (deps: StoreDeps, eventId: string): Promise<EventFailure | undefined> => {
  const { Item } = await deps.doc.send(new GetCommand({ TableName: deps.tableName, Key: failureItemKey(eventId), ConsistentRead: true }));
  return toFailure(Item);
};

export interface FailurePage {
  readonly eventIds: string[];
  readonly cursor?: Record<string, unknown>;
}

/**
 * One page of failures in a state, oldest first: `retrying` ones whose next attempt is due by `dueBefore`
 * (epoch s; default: any), or `dropped` ones.
 */
export const listFailures = async (
  deps: Pick<StoreDeps, 'doc' | 'tableName'>,
  state: 'retrying' | 'dropped',
  options: { dueBefore?: number; limit?: number; cursor?: Record<string, unknown> } = {},
): Promise<FailurePage> => {
  const bounded = options.dueBefore !== undefined;
  const page = await deps.doc.send(
    new QueryCommand({
      TableName: deps.tableName,
      IndexName: GSI1,
      KeyConditionExpression: bounded ? 'gsi1pk = :p AND gsi1sk <= :before' : 'gsi1pk = :p',
      ExpressionAttributeValues: { ':p': INDEXED[state], ...(bounded ? { ':before': dueSortKey(options.dueBefore ?? 0) } : {}) },
      Limit: options.limit ?? 100,
      ...(options.cursor ? { ExclusiveStartKey: options.cursor } : {}),
    }),
  );
  const eventIds = (page.Items ?? []).map((k) => String(k.pk).slice('FAILURE#'.length));
  return { eventIds, ...(page.LastEvaluatedKey ? { cursor: page.LastEvaluatedKey } : {}) };
};

/**
 * Takes a due retry for one attempt: moves its next attempt to `untilS` only if it is still the one `seen`, so two
 * sweeps never run the same attempt, and an attempt that dies is taken again once `untilS` passes.
 */
export const claimRetry = (deps: StoreDeps, failure: EventFailure, untilS: number): Promise<boolean> =>
  conditionMet(() =>
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: failureItemKey(failure.eventId),
        UpdateExpression: 'SET nextAttemptAt = :until, gsi1sk = :sk',
        ConditionExpression: '#state = :retrying AND nextAttemptAt = :seen',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':until': untilS, ':sk': dueSortKey(untilS), ':retrying': 'retrying', ':seen': failure.nextAttemptAt ?? -1 },
      }),
    ),
  );

/** The event's work finally succeeded: kept (unindexed) for the record until its retention ends. */
export const resolveFailure = (deps: StoreDeps, eventId: string): Promise<boolean> => {
  const now = nowSeconds(deps.clock);
  return conditionMet(() =>
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: failureItemKey(eventId),
        UpdateExpression: 'SET #state = :resolved, resolvedAt = :now, #ttl = :ttl REMOVE gsi1pk, gsi1sk, nextAttemptAt',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#state': 'state', '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':resolved': 'resolved', ':now': now, ':ttl': now + FAILURE_RETENTION_S },
      }),
    ),
  );
};
