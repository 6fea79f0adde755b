// The table mechanics every item module shares.
// Conditional writes are how this project serialises work across Lambdas: a write whose condition fails is
// an expected answer ("someone else got there first"), not an error. conditionMet and cancelledAt turn
// DynamoDB's exceptions for that answer into values, and let every other failure through.
// Reading several items of the table in one request (BatchGetItem) is for the few places that need items of
// different partitions together: a token with its refresh lease, and the operator listing.
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Key, StoreDeps } from './keys.ts';

/**
 * Runs one conditional write: undefined if it was applied; if its condition failed, the item it met (when the
 * write asked for it with ReturnValuesOnConditionCheckFailure: 'ALL_OLD', else empty). Other errors throw.
 */
export const refusedBy = async (write: () => Promise<unknown>): Promise<Record<string, unknown> | undefined> => {
  try {
    await write();
    return undefined;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return error.Item ? unmarshall(error.Item) : {};
    // A transaction whose first item (the conditional write itself) was refused: the same answer.
    if (error instanceof TransactionCanceledException && error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed') {
      const item = error.CancellationReasons[0].Item;
      return item ? unmarshall(item) : {};
    }
    throw error;
  }
};

/** Runs one conditional write: true if it was applied, false if its condition failed; other errors throw. */
export const conditionMet = async (write: () => Promise<unknown>): Promise<boolean> => (await refusedBy(write)) === undefined;

/** Indexes of the transaction items whose condition failed; empty when `error` is not a cancelled transaction. */
export const cancelledAt = (error: unknown): number[] =>
  error instanceof TransactionCanceledException
    ? (error.CancellationReasons ?? []).flatMap((r, i) => (r.Code === 'ConditionalCheckFailed' ? [i] : []))
    : [];

/** BatchGetItem takes at most 100 keys; unprocessed keys are retried a few times before giving up. */
const BATCH_GET_MAX_KEYS = 100;
const BATCH_GET_ATTEMPTS = 5;

/** The stored items among `keys` (any order; missing ones are simply absent). Raw items: store modules only. */
export const getItems = async (deps: StoreDeps, keys: Key[], options: { consistent?: boolean } = {}): Promise<Record<string, unknown>[]> => {
  if (keys.length > BATCH_GET_MAX_KEYS) throw new RangeError(`at most ${BATCH_GET_MAX_KEYS} keys per batch, got ${keys.length}`);
  const found: Record<string, unknown>[] = [];
  let pending: Record<string, unknown>[] = keys.map((k) => ({ pk: k.pk, sk: k.sk }));
  for (let attempt = 0; pending.length > 0; attempt += 1) {
    if (attempt === BATCH_GET_ATTEMPTS) throw new Error(`BatchGetItem left ${pending.length} key(s) unprocessed after ${attempt} attempts`);
    const out = await deps.doc.send(
      new BatchGetCommand({ RequestItems: { [deps.tableName]: { Keys: pending, ConsistentRead: options.consistent ?? false } } }),
    );
    found.push(...(out.Responses?.[deps.tableName] ?? []));
    pending = out.UnprocessedKeys?.[deps.tableName]?.Keys ?? [];
  }
  return found;
};

/** The item with exactly this key among `items`. */
export const findItem = (items: Record<string, unknown>[], key: Key): Record<string, unknown> | undefined =>
  items.find((i) => i.pk === key.pk && i.sk === key.sk);
