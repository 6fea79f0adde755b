// One upstream call per token lifetime, across every Lambda (docs/architecture.md §3, docs/style.md §10). The caller that
// takes the lease re-reads (someone may have finished just before), calls WeChat once, writes and releases.
// Everyone else waits on consistent reads with bounded backoff instead of calling WeChat; when the lease
// runs out without a token (a crashed holder) the next poll takes it over. A holder that fails records why,
// so its followers fail with the same error at once instead of each repeating the failing call.
import { randomUUID } from 'node:crypto';
import { waitFor, type WaitOptions } from '../kernel/wait.ts';
import type { Deps } from '../runtime/deps.ts';
import { acquireLease, hasRunOut, LeaseHeldError, releaseLease, renewLease, type Lease, type LeaseFailure } from '../store/claims.ts';
import { failureOf, reviveFailure, TokenBusyError, TokenRefreshFailedError } from './errors.ts';

/** How a follower waits (maxWaitMs, then TokenBusyError), and how long a holder may take for one step. */
export interface FlightOptions extends WaitOptions {
  /** One step: a token and one WeChat call; see each flight's budget. */
  readonly leaseMs: number;
}

export interface Flight<T> {
  /** Lease name: LEASE#<what>. */
  readonly what: string;
  /**
   * A consistent read of the token, undefined unless it is good enough to hand out, or was written at or
   * after `since` (epoch s): a token obtained while this caller waited is the one this flight was for, even
   * if WeChat granted it for less than the margin (otherwise every waiting caller would in turn refresh it).
   */
  read(since: number): Promise<T | undefined>;
  /** The same read plus the lease, in one request: what a waiting caller polls. */
  observe(since: number): Promise<{ value?: T; lease?: Lease }>;
  /** Calls WeChat once and stores the result. Runs only while holding the lease; `renew` before each further call. */
  refresh(renew: Renew): Promise<T>;
}

type FlightDeps = Pick<Deps, 'doc' | 'tableName' | 'clock' | 'logger'>;

const tryAcquire = async (deps: FlightDeps, what: string, owner: string, leaseMs: number): Promise<boolean> => {
  try {
    await acquireLease(deps, what, owner, leaseMs);
    return true;
  } catch (error) {
    if (error instanceof LeaseHeldError) return false;
    throw error;
  }
};

/** Releasing is best effort: the work is done (or failed) either way, and an unreleased lease just runs out. */
const release = async (deps: FlightDeps, what: string, owner: string, failure?: LeaseFailure): Promise<void> => {
  try {
    if (!(await releaseLease(deps, what, owner, failure))) deps.logger.warn('lease.overrun', { lease: what });
  } catch (error) {
    deps.logger.warn('lease.release_failed', { lease: what }, error);
  }
};

/** Extends the held lease by a full term before a further upstream call; throws if the lease was lost. */
export type Renew = () => Promise<void>;

/**
 * A lease taken or renewed moments ago (under 1/20 of its term) is not renewed again, which spares the
 * ordinary refresh (component token cached, one call) a write; before any later call it is.
 */
const renewer = (deps: FlightDeps, what: string, owner: string, leaseMs: number): Renew => {
  let renewedAt = deps.clock();
  return async () => {
    if (deps.clock() - renewedAt < leaseMs / 20) return;
    if (!(await renewLease(deps, what, owner, leaseMs))) {
      throw new TokenRefreshFailedError(`${what}: the lease ran out and passed to another caller during the refresh; retry`);
    }
    renewedAt = deps.clock();
  };
};

/** Runs `work` as the lease holder and releases the lease, recording the failure if it throws. */
const holdLease = async <T>(deps: FlightDeps, what: string, owner: string, leaseMs: number, work: (renew: Renew) => Promise<T>): Promise<T> => {
  let result: T;
  try {
    result = await work(renewer(deps, what, owner, leaseMs));
  } catch (error) {
    await release(deps, what, owner, failureOf(error, deps.clock()));
    throw error;
  }
  await release(deps, what, owner);
  return result;
};

/** The holder re-reads (someone may have finished just before) and otherwise returns whatever it stored. */
const asHolder = <T>(deps: FlightDeps, flight: Flight<T>, owner: string, since: number, leaseMs: number): Promise<T> =>
  holdLease(deps, flight.what, owner, leaseMs, async (renew) => (await flight.read(since)) ?? flight.refresh(renew));

/** The token from `flight`, refreshing it at most once across all concurrent callers. */
export const singleFlight = async <T>(deps: FlightDeps, flight: Flight<T>, options: FlightOptions): Promise<T> => {
  const owner = randomUUID();
  const startedAt = deps.clock();
  const since = Math.floor(startedAt / 1000);
  if (await tryAcquire(deps, flight.what, owner, options.leaseMs)) return asHolder(deps, flight, owner, since, options.leaseMs);
  const taken = await waitFor(options, async () => {
    const { value, lease } = await flight.observe(since);
    if (value) return { value };
    if (lease?.failure && lease.failure.failedAt >= startedAt) throw reviveFailure(flight.what, lease.failure);
    const free = !lease || hasRunOut(lease.leaseUntil, deps.clock());
    if (!free || !(await tryAcquire(deps, flight.what, owner, options.leaseMs))) return undefined;
    if (lease) deps.logger.warn('lease.taken_over', { lease: flight.what, previousLeaseUntil: lease.leaseUntil });
    return { value: await asHolder(deps, flight, owner, since, options.leaseMs) };
  });
  if (taken) return taken.value;
  throw new TokenBusyError(`${flight.what} is being refreshed by another caller for over ${options.maxWaitMs} ms; retry shortly`);
};

export type DueOutcome = 'refreshed' | 'fresh' | 'leased';

/**
 * For the scheduled refresh: takes the same lease as an on-demand refresh without waiting for another holder
 * ('leased' when someone holds it) and runs `work` under it, which reads what it needs first (a caller may have
 * refreshed the token since the schedule was read) and says what it did.
 */
export const refreshIfDue = async <O extends string>(
  deps: FlightDeps,
  what: string,
  leaseMs: number,
  work: (renew: Renew) => Promise<O>,
): Promise<O | 'leased'> => {
  const owner = randomUUID();
  if (!(await tryAcquire(deps, what, owner, leaseMs))) return 'leased';
  return holdLease(deps, what, owner, leaseMs, work);
};
