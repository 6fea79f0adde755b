// What `rolloutStatus` and `npm run status -- --rollout <id>` show (docs/fleet.md): the rollout, its accounts
// counted per stage, how many wait for the quota or a retry, and every failure with WeChat's reason.
import { nowSeconds } from '../kernel/clock.ts';
import { ROLLOUT_STAGES, type RolloutAccount, type RolloutHeader, type RolloutStage } from '../store/rollout-types.ts';
import { getRolloutHeader, rolloutAccounts, RolloutNotFoundError } from '../store/rollouts.ts';
import type { StoreDeps } from '../store/keys.ts';
import { isSettled } from './sweep.ts';

/** Failures listed in full; the rest are counted. */
export const FAILURES_LISTED = 100;

export interface RolloutFailure {
  readonly authorizerAppid: string;
  readonly stage: RolloutStage;
  /** audit_failed: WeChat's reason; failed: the error of the call that failed for good. */
  readonly reason: string;
  readonly step?: string;
  readonly errcode?: number;
  readonly screenshots?: readonly string[];
}

export interface RolloutStatus {
  readonly rolloutId: string;
  readonly status: RolloutHeader['status'];
  readonly phase: number;
  readonly templateId: number;
  readonly userVersion: string;
  readonly release: RolloutHeader['release'];
  readonly halted: boolean;
  readonly createdAt: string;
  readonly completedAt?: string;
  readonly accounts: number;
  readonly settled: number;
  /** Every stage, zero included, in lifecycle order. */
  readonly stages: Record<RolloutStage, number>;
  readonly waitingForQuota: number;
  readonly retrying: number;
  readonly failures: RolloutFailure[];
  readonly failureCount: number;
  readonly skipped: RolloutHeader['skipped'];
  readonly skippedCount: number;
}

/** `<br>`-separated audit reasons as lines; WeChat's links kept as text. */
export const plainReason = (reason: string): string =>
  reason
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .trim();

const failureOf = (a: RolloutAccount): RolloutFailure | undefined => {
  if (a.stage === 'audit_failed') {
    const shots = a.auditResult?.screenshots ?? [];
    return {
      authorizerAppid: a.authorizerAppid,
      stage: a.stage,
      reason: plainReason(a.auditResult?.reason ?? ''),
      ...(shots.length ? { screenshots: shots } : {}),
    };
  }
  if (a.stage !== 'failed') return undefined;
  const e = a.lastError;
  return {
    authorizerAppid: a.authorizerAppid,
    stage: a.stage,
    reason: e?.message ?? 'unknown',
    ...(a.failedStep ? { step: a.failedStep } : {}),
    ...(e?.errcode !== undefined ? { errcode: e.errcode } : {}),
  };
};

const iso = (s: number) => new Date(s * 1000).toISOString();

const tally = async (deps: StoreDeps, header: RolloutHeader) => {
  const now = nowSeconds(deps.clock);
  const stages = Object.fromEntries(ROLLOUT_STAGES.map((s) => [s, 0])) as Record<RolloutStage, number>;
  const t = { accounts: 0, settled: 0, waitingForQuota: 0, retrying: 0, failureCount: 0, stages, failures: [] as RolloutFailure[] };
  for await (const page of rolloutAccounts(deps, header.rolloutId)) {
    for (const a of page) {
      t.accounts += 1;
      stages[a.stage] += 1;
      if (isSettled(header, a)) t.settled += 1;
      if (a.blockedBy === 'quota') t.waitingForQuota += 1;
      else if (a.lastError && a.stage !== 'failed' && (a.nextAttemptAt ?? 0) > now) t.retrying += 1;
      const failure = failureOf(a);
      if (failure) t.failureCount += 1;
      if (failure && t.failures.length < FAILURES_LISTED) t.failures.push(failure);
    }
  }
  return t;
};

export const getRolloutStatus = async (deps: StoreDeps, rolloutId: string): Promise<RolloutStatus> => {
  const header = await getRolloutHeader(deps, rolloutId);
  if (!header) throw new RolloutNotFoundError(`no rollout ${rolloutId}`);
  const t = await tally(deps, header);
  return {
    rolloutId,
    status: header.status,
    phase: header.phase,
    templateId: header.templateId,
    userVersion: header.userVersion,
    release: header.release,
    halted: header.halted === true,
    createdAt: iso(header.createdAt),
    ...(header.completedAt ? { completedAt: iso(header.completedAt) } : {}),
    accounts: t.accounts,
    settled: t.settled,
    stages: t.stages,
    waitingForQuota: t.waitingForQuota,
    retrying: t.retrying,
    failures: t.failures,
    failureCount: t.failureCount,
    skipped: header.skipped ?? [],
    skippedCount: header.skippedCount ?? header.skipped?.length ?? 0,
  };
};
