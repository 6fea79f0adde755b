// Leases: a conditional write on LEASE#<what> that lets exactly one caller across all Lambdas do a piece of
// work (refresh one token) while the others wait. A holder that crashes never releases; its lease simply
// runs out (leaseUntil) and the next caller takes over. The item lives on for an hour for the post-mortem,
// then TTL removes it.
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { AppError } from '../kernel/errors.ts';
import { conditionMet } from './conditional.ts';
import { leaseKey } from './keys.ts';
import type { StoreDeps } from './types.ts';

/** How long a lease item outlives its end before TTL may delete it (epoch seconds arithmetic). */
export const LEASE_RETENTION_S = 60 * 60;

/** Why the last holder gave up, so waiting callers can fail fast instead of each repeating the failure. */
export interface LeaseFailure {
  /** A stable kind (the token service's error type), not a class name: bundles mangle those. */
  readonly name: string;
  readonly message: string;
  readonly errcode?: number;
  readonly api?: string;
  /** Epoch ms. */
  readonly failedAt: number;
}

export interface Lease {
  readonly what: string;
  readonly owner: string;
  /** Epoch ms; the lease is free once leaseUntil < now. */
  readonly leaseUntil: number;
  readonly failure?: LeaseFailure;
}

/** Someone else holds the lease until `leaseUntil` (epoch ms). */
export class LeaseHeldError extends AppError {
  readonly what: string;
  readonly leaseUntil: number;
  constructor(what: string, leaseUntil: number) {
    super(`lease ${what} is held until ${new Date(leaseUntil).toISOString()}`);
    this.what = what;
    this.leaseUntil = leaseUntil;
  }
}

const ttlFor = (leaseUntil: number): number => Math.ceil(leaseUntil / 1000) + LEASE_RETENTION_S;

/** Takes the lease if it is free or has run out; throws LeaseHeldError otherwise. */
export const acquireLease = async (deps: StoreDeps, what: string, owner: string, ttlMs: number): Promise<Lease> => {
  const now = deps.clock();
  const leaseUntil = now + ttlMs;
  try {
    await deps.doc.send(
      new PutCommand({
        TableName: deps.tableName,
        Item: { ...leaseKey(what), owner, leaseUntil, acquiredAt: now, ttl: ttlFor(leaseUntil) },
        ConditionExpression: 'attribute_not_exists(pk) OR leaseUntil < :now',
        ExpressionAttributeValues: { ':now': now },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return { what, owner, leaseUntil };
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) {
      const held = Number((error.Item as { leaseUntil?: { N?: string } } | undefined)?.leaseUntil?.N ?? now);
      throw new LeaseHeldError(what, held);
    }
    throw error;
  }
};

/** The lease as stored (consistent read), or undefined when nobody ever took it or TTL removed it. */
export const getLease = async (deps: StoreDeps, what: string): Promise<Lease | undefined> => {
  const { Item: item } = await deps.doc.send(new GetCommand({ TableName: deps.tableName, Key: leaseKey(what), ConsistentRead: true }));
  return toLease(what, item);
};

/** Domain object of a raw lease item (also read in batches next to the token it guards). */
export const toLease = (what: string, item: Record<string, unknown> | undefined): Lease | undefined => {
  if (!item || typeof item.leaseUntil !== 'number') return undefined;
  const failure = item.failure as LeaseFailure | undefined;
  return { what, owner: String(item.owner), leaseUntil: item.leaseUntil, ...(failure ? { failure } : {}) };
};

/**
 * Ends the lease now if `owner` still holds it, optionally recording why the work failed. Returns false when
 * the lease had already passed to someone else (this holder overran it), which the caller may want to log.
 */
export const releaseLease = (deps: StoreDeps, what: string, owner: string, failure?: LeaseFailure): Promise<boolean> => {
  const now = deps.clock();
  return conditionMet(() =>
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: leaseKey(what),
        // Ending the lease one millisecond in the past makes it free at once for `leaseUntil < :now`.
        UpdateExpression: failure ? 'SET leaseUntil = :ended, failure = :failure' : 'SET leaseUntil = :ended REMOVE failure',
        ConditionExpression: 'attribute_exists(pk) AND #owner = :me',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: { ':ended': now - 1, ':me': owner, ...(failure ? { ':failure': failure } : {}) },
      }),
    ),
  );
};

/**
 * Extends the lease to now + ttlMs if `owner` still holds it (a holder about to make a further upstream call
 * in a long recovery). Returns false when it passed to someone else: the caller must stop calling WeChat.
 */
export const renewLease = (deps: StoreDeps, what: string, owner: string, ttlMs: number): Promise<boolean> => {
  const leaseUntil = deps.clock() + ttlMs;
  return conditionMet(() =>
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: leaseKey(what),
        UpdateExpression: 'SET leaseUntil = :until, #ttl = :ttl',
        ConditionExpression: 'attribute_exists(pk) AND #owner = :me',
        ExpressionAttributeNames: { '#owner': 'owner', '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':until': leaseUntil, ':ttl': ttlFor(leaseUntil), ':me': owner },
      }),
    ),
  );
};
