// The fleet function's schedule side (docs/fleet.md), every minute: for each planning or running rollout, resume a
// planner that died, wake the accounts that are due (a backoff over, an expired claim to recover, an audit to poll,
// a stream record lost), give waiting submissions the quota that came back (one queryquota per sweep), and when
// every account is settled mark the rollout completed with its `Rollout Completed` event in the same write.
// Waking is a write to the account item (its MODIFY on the stream runs the step), so every step runs one way.
import { nowSeconds } from '../kernel/clock.ts';
import type { RolloutAccount, RolloutHeader } from '../store/rollout-types.ts';
import { getRolloutHeader, listActiveRollouts, rolloutAccounts, updateRolloutAccount, updateRolloutHeader } from '../store/rollouts.ts';
import { CLAIMED_STAGES, nextStep } from './advance.ts';
import type { FleetDeps } from './context.ts';
import { rolloutCompletedEvent } from './events.ts';
import { refreshQuota, resumePlanning } from './plan.ts';
import { inPool } from './records.ts';

/** An actionable account untouched this long has lost its stream record (or the record failed for good): wake it. */
export const STALE_S = 300;

export interface SweepReport {
  readonly rollouts: number;
  readonly woken: number;
  readonly completed: string[];
}

/** Settled: nothing will move it without the operator (released, failed, awaiting a manual release, …). */
export const isSettled = (header: RolloutHeader, account: RolloutAccount): boolean =>
  !CLAIMED_STAGES.has(account.stage) && nextStep(header, account, Number.POSITIVE_INFINITY) === undefined;

const shouldWake = (header: RolloutHeader, a: RolloutAccount, now: number): boolean => {
  if (a.blockedBy === 'quota') return false;
  if (CLAIMED_STAGES.has(a.stage)) return (a.claimUntil ?? 0) <= now;
  const step = nextStep(header, a, now);
  if (!step) return false;
  return a.nextAttemptAt !== undefined || a.updatedAt <= now - STALE_S;
};

const wake = (deps: FleetDeps, a: RolloutAccount, clear: string[] = []) =>
  updateRolloutAccount(deps, a, { version: a.version }, { set: { wokenAt: nowSeconds(deps.clock) }, remove: clear });

const sweepRollout = async (deps: FleetDeps, rolloutId: string): Promise<{ woken: number; completed: boolean }> => {
  const header = await getRolloutHeader(deps, rolloutId);
  const now = nowSeconds(deps.clock);
  if (!header) return { woken: 0, completed: false };
  if (header.status === 'planning') {
    if (header.planningUntil <= now) await resumePlanning(deps, header);
    return { woken: 0, completed: false };
  }
  const counts: Record<string, number> = {};
  const due: RolloutAccount[] = [];
  const blocked: RolloutAccount[] = [];
  let settled = true;
  for await (const page of rolloutAccounts(deps, rolloutId, { consistent: true })) {
    for (const a of page) {
      counts[a.stage] = (counts[a.stage] ?? 0) + 1;
      if (!isSettled(header, a)) settled = false;
      if (a.blockedBy === 'quota' && !header.halted) blocked.push(a);
      else if (shouldWake(header, a, now)) due.push(a);
    }
  }
  const rest = blocked[0] ? ((await refreshQuota(deps, blocked[0].authorizerAppid)) ?? 0) : 0;
  const unblocked = blocked.slice(0, rest);
  await inPool(due, 20, async (a) => void (await wake(deps, a)));
  await inPool(unblocked, 20, async (a) => void (await wake(deps, a, ['blockedBy', 'nextAttemptAt'])));
  if (!settled || header.status !== 'running') return { woken: due.length + unblocked.length, completed: false };
  const done = await updateRolloutHeader(deps, header, { set: { status: 'completed', completedAt: now }, active: false }, [
    rolloutCompletedEvent(deps, header, counts, deps.clock()),
  ]);
  if (done) deps.logger.info('rollout.completed', { rolloutId, phase: header.phase, ...counts });
  return { woken: due.length + unblocked.length, completed: done };
};

/** One sweep over every active rollout; a rollout that fails is logged and the others still get theirs. */
export const sweepRollouts = async (deps: FleetDeps): Promise<SweepReport> => {
  const ids = await listActiveRollouts(deps);
  let woken = 0;
  const completed: string[] = [];
  for (const id of ids) {
    try {
      const result = await sweepRollout(deps, id);
      woken += result.woken;
      if (result.completed) completed.push(id);
    } catch (error) {
      deps.logger.error('rollout.sweep_failed', { rolloutId: id }, error);
    }
  }
  return { rollouts: ids.length, woken, completed };
};
