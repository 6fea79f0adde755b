// Claims with an expiry: how exactly one caller across all Lambdas gets to do a piece of work. Three things
// are claimed: a LEASE (refreshing one token), a CODE (exchanging one authorization code) and a MSG delivery
// (handling one message). A claim is a conditional put on the item that holds it: it lands when there is no
// item, when the item is past its expiresAt (TTL deletes lazily), or when an earlier claim has run out
// (`until` <= now). A claimant that crashes never releases; its claim runs out and the next caller takes over.
// Only the owner can renew, end, settle (turn the claim into its outcome: a code's result) or drop a claim.
//
// A write can land while its answer is lost (a reset socket): the SDK retries and meets its own condition.
// Every refused write therefore reads back the stored item (ReturnValuesOnConditionCheckFailure), and an item
// that already holds our owner is our own write, not someone else's claim to wait for.
import { DeleteCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { AppError } from '../kernel/errors.ts';
import { type Key, leaseKey, type StoreDeps } from './keys.ts';
import { conditionMet, refusedBy } from './table.ts';

/** What kind of claim an item holds. */
export interface ClaimKind {
  /** The attribute holding the claim's end, epoch ms (leaseUntil, claimUntil, handlingUntil). */
  readonly until: string;
  /** The `state` of a live claim, for items that live on in another state once settled; leases have none. */
  readonly state?: string;
}

export interface ClaimRequest {
  readonly key: Key;
  /** Identifies this claimant (a fresh UUID per attempt), so only its own failure can end its claim. */
  readonly owner: string;
  /** Epoch ms: the claim holds until then. */
  readonly until: number;
  /** The item's other attributes, written with the claim (its expiresAt among them). */
  readonly item: Readonly<Record<string, unknown>>;
  /** Writes that land with the claim or not at all (outbox items announcing it), in one transaction. */
  readonly with?: readonly NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>[number][];
}

/** Taken (until: the claim's end), or refused with the item that refused it: another's live claim or an outcome. */
export type ClaimAnswer = { readonly claimed: true; readonly until: number } | { readonly claimed: false; readonly held: Record<string, unknown> };

/** A claim ending at `until` no longer holds at `now` (epoch ms). */
export const hasRunOut = (until: number, now: number): boolean => until <= now;

type Names = Record<string, string>;
const stateNames = (kind: ClaimKind): Names => (kind.state ? { '#state': 'state' } : {});
const stateValues = (kind: ClaimKind): Record<string, unknown> => (kind.state ? { ':claimed': kind.state } : {});

/** Claims the item for `owner` until `request.until` unless a live claim or a settled outcome holds it. */
export const takeClaim = async (deps: StoreDeps, kind: ClaimKind, request: ClaimRequest): Promise<ClaimAnswer> => {
  const now = deps.clock();
  const runOut = kind.state ? '(#state = :claimed AND #until <= :now)' : '#until <= :now';
  const put = {
    TableName: deps.tableName,
    Item: { ...request.item, ...request.key, ...(kind.state ? { state: kind.state } : {}), owner: request.owner, [kind.until]: request.until },
    ConditionExpression: `attribute_not_exists(pk) OR expiresAt <= :nowS OR ${runOut}`,
    ExpressionAttributeNames: { '#until': kind.until, ...stateNames(kind) },
    ExpressionAttributeValues: { ':now': now, ':nowS': Math.floor(now / 1000), ...stateValues(kind) },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  };
  const also = request.with ?? [];
  const held = await refusedBy(() =>
    also.length > 0 ? deps.doc.send(new TransactWriteCommand({ TransactItems: [{ Put: put }, ...also] })) : deps.doc.send(new PutCommand(put)),
  );
  if (!held) return { claimed: true, until: request.until };
  // Our own write landed and only its answer was lost: the SDK's retry met the claim it had just made.
  const ours = held.owner === request.owner && (!kind.state || held.state === kind.state);
  return ours ? { claimed: true, until: Number(held[kind.until]) } : { claimed: false, held };
};

/**
 * SETs `set` and REMOVEs `remove` on the item if it still is `owner`'s claim (run out or not, as long as nobody
 * took it over). False when it passed to someone else; true also when only the answer of our own earlier
 * write was lost (the item holds our owner but is no longer a claim: that write settled it).
 */
const updateOwnClaim = async (
  deps: StoreDeps,
  kind: ClaimKind,
  key: Key,
  owner: string,
  set: Readonly<Record<string, unknown>>,
  remove: readonly string[] = [],
): Promise<boolean> => {
  const setNames = Object.keys(set);
  const names: Names = { '#owner': 'owner', ...stateNames(kind) };
  const values: Record<string, unknown> = { ':me': owner, ...stateValues(kind) };
  setNames.forEach((name, i) => {
    names[`#s${i}`] = name;
    values[`:s${i}`] = set[name];
  });
  remove.forEach((name, i) => {
    names[`#r${i}`] = name;
  });
  const removing = remove.length > 0 ? ` REMOVE ${remove.map((_, i) => `#r${i}`).join(', ')}` : '';
  const held = await refusedBy(() =>
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: key,
        UpdateExpression: `SET ${setNames.map((_, i) => `#s${i} = :s${i}`).join(', ')}${removing}`,
        ConditionExpression: kind.state ? '#state = :claimed AND #owner = :me' : '#owner = :me',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    ),
  );
  return !held || held.owner === owner;
};

/** Replaces our claim with its outcome (`outcome` set, the claim's end removed); false when the claim is no longer ours. */
export const settleClaim = (deps: StoreDeps, kind: ClaimKind, key: Key, owner: string, outcome: Readonly<Record<string, unknown>>) =>
  updateOwnClaim(deps, kind, key, owner, outcome, [kind.until]);

/** Deletes our claim (the work failed in a way another attempt may fix); a no-op when it is no longer ours. */
export const dropClaim = (deps: StoreDeps, kind: ClaimKind, key: Key, owner: string): Promise<boolean> =>
  conditionMet(() =>
    deps.doc.send(
      new DeleteCommand({
        TableName: deps.tableName,
        Key: key,
        ConditionExpression: kind.state ? '#state = :claimed AND #owner = :me' : '#owner = :me',
        ExpressionAttributeNames: { '#owner': 'owner', ...stateNames(kind) },
        ExpressionAttributeValues: { ':me': owner, ...stateValues(kind) },
      }),
    ),
  );

// Leases: LEASE#<what> items that exist only for the claim. The item lives on for an hour after the lease
// ends, for the post-mortem and for the failure a holder records for its followers; then TTL removes it.

const LEASE: ClaimKind = { until: 'leaseUntil' };

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
  /** Epoch ms; the lease is free once it has run out (hasRunOut). */
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

const expiresAtFor = (leaseUntil: number): number => Math.ceil(leaseUntil / 1000) + LEASE_RETENTION_S;

/** Takes the lease if it is free or has run out; throws LeaseHeldError otherwise. */
export const acquireLease = async (deps: StoreDeps, what: string, owner: string, ttlMs: number): Promise<Lease> => {
  const now = deps.clock();
  const until = now + ttlMs;
  const answer = await takeClaim(deps, LEASE, { key: leaseKey(what), owner, until, item: { acquiredAt: now, expiresAt: expiresAtFor(until) } });
  if (!answer.claimed) throw new LeaseHeldError(what, Number(answer.held.leaseUntil ?? now));
  return { what, owner, leaseUntil: answer.until };
};

/** Domain object of a raw lease item (read in batches next to the token it guards). */
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
  // Ending the lease one millisecond in the past makes it free at once.
  const ended = deps.clock() - 1;
  return failure
    ? updateOwnClaim(deps, LEASE, leaseKey(what), owner, { leaseUntil: ended, failure })
    : updateOwnClaim(deps, LEASE, leaseKey(what), owner, { leaseUntil: ended }, ['failure']);
};

/**
 * Extends the lease to now + ttlMs if `owner` still holds it (a holder about to make a further upstream call
 * in a long recovery). Returns false when it passed to someone else: the caller must stop calling WeChat.
 */
export const renewLease = (deps: StoreDeps, what: string, owner: string, ttlMs: number): Promise<boolean> => {
  const leaseUntil = deps.clock() + ttlMs;
  return updateOwnClaim(deps, LEASE, leaseKey(what), owner, { leaseUntil, expiresAt: expiresAtFor(leaseUntil) });
};
