// Planning a rollout (docs/fleet.md): resolve its target to the authorized mini programs that granted code
// management, write the header, read the submit quota, write one pending item per mini program (their INSERTs
// start the steps), and mark the rollout running. A planner that dies midway leaves a `planning` header whose
// lease runs out; the sweep then resumes it, writing only the account items still missing.
import { randomBytes } from 'node:crypto';
import { nowSeconds } from '../kernel/clock.ts';
import { allRolloutCandidates, getSubmitQuota, rolloutCandidates, saveSubmitQuota, type RolloutCandidate } from '../store/rollout-targets.ts';
import type { RolloutAccount, RolloutHeader, RolloutTarget } from '../store/rollout-types.ts';
import { createRolloutHeader, missingRolloutAccounts, putRolloutAccounts, updateRolloutHeader } from '../store/rollouts.ts';
import { withAuthorizerToken } from '../tokens/authorizer-token.ts';
import type { FleetDeps } from './context.ts';

/** How long a planner holds a planning rollout before the sweep may resume it. */
export const PLANNING_LEASE_S = 300;
/** The permission set of the code-management APIs (开发管理与数据分析). */
export const CODE_MANAGEMENT_PERMISSION = 18;
/** Re-read the quota from WeChat when the stored figure is older than this. */
export const QUOTA_MAX_AGE_S = 600;
const SKIPPED_KEPT = 100;

export type RolloutRequest = Pick<
  RolloutHeader,
  'templateId' | 'userVersion' | 'userDesc' | 'extJson' | 'submitAudit' | 'release' | 'submit' | 'privacySetting' | 'target'
>;

export interface ResolvedTargets {
  readonly eligible: RolloutCandidate[];
  readonly skipped: { authorizerAppid: string; reason: string }[];
}

/** Why a candidate cannot take part, or undefined when it can. */
export const ineligibility = (c: RolloutCandidate | undefined): string | undefined => {
  if (!c) return 'has not authorized this component';
  if (c.status !== 'authorized') return `is ${c.status}`;
  if (!c.isMiniProgram) return 'is not a mini program';
  if (!c.funcInfo.includes(CODE_MANAGEMENT_PERMISSION)) return 'has not granted permission set 18 (code management)';
  return undefined;
};

/** The mini programs a target names, and the ones it names that cannot take part (with why). */
export const resolveTargets = async (deps: FleetDeps, target: RolloutTarget): Promise<ResolvedTargets> => {
  const eligible: RolloutCandidate[] = [];
  const skipped: { authorizerAppid: string; reason: string }[] = [];
  const sort = (c: RolloutCandidate | undefined, appid: string) => {
    const reason = ineligibility(c);
    if (reason) skipped.push({ authorizerAppid: appid, reason });
    else if (c) eligible.push(c);
  };
  if (target.kind === 'authorizers') {
    for (let i = 0; i < target.appids.length; i += 100) {
      const chunk = target.appids.slice(i, i + 100);
      const found = new Map((await rolloutCandidates(deps, chunk)).map((c) => [c.authorizerAppid, c]));
      for (const appid of chunk) sort(found.get(appid), appid);
    }
    return { eligible, skipped };
  }
  for await (const page of allRolloutCandidates(deps)) {
    for (const c of page) {
      if (target.kind === 'tenant' && c.tenant !== target.tenant) continue;
      // "all" means every authorized mini program: official accounts are not worth reporting as skipped.
      if (target.kind === 'all' && (!c.isMiniProgram || c.status !== 'authorized')) continue;
      sort(c, c.authorizerAppid);
    }
  }
  return { eligible, skipped };
};

/** A sortable, unguessable-enough id: creation time (UTC) and 24 random bits, e.g. 20250101T000000-a1b2c3. */
export const newRolloutId = (nowMs: number): string =>
  `${new Date(nowMs).toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;

/** Reads queryquota (with any target's token) when the stored figure is missing or old; failures are left to the sweep. */
export const refreshQuotaIfStale = async (deps: FleetDeps, appid: string): Promise<void> => {
  const { componentAppId } = deps.config;
  const stored = await getSubmitQuota(deps, componentAppId);
  if (stored && stored.checkedAt > nowSeconds(deps.clock) - QUOTA_MAX_AGE_S) return;
  await refreshQuota(deps, appid);
};

export const refreshQuota = async (deps: FleetDeps, appid: string): Promise<number | undefined> => {
  try {
    const quota = await withAuthorizerToken(deps, appid, (t) => deps.wechat.queryQuota(t));
    await saveSubmitQuota(deps, deps.config.componentAppId, quota);
    deps.logger.info('rollout.quota_read', { rest: quota.rest, limit: quota.limit });
    return quota.rest;
  } catch (error) {
    deps.logger.warn('rollout.quota_unread', { authorizerAppid: appid }, error);
    return undefined;
  }
};

const accountItem = (rolloutId: string, c: RolloutCandidate, now: number): RolloutAccount => ({
  rolloutId,
  authorizerAppid: c.authorizerAppid,
  ...(c.tenant ? { tenant: c.tenant } : {}),
  stage: 'pending',
  version: 1,
  attempts: 0,
  createdAt: now,
  updatedAt: now,
});

/** Writes the account items (only the missing ones when resuming) and marks the rollout running. */
const writeAccounts = async (deps: FleetDeps, header: RolloutHeader, resolved: ResolvedTargets, resuming: boolean) => {
  const now = nowSeconds(deps.clock);
  for (let i = 0; i < resolved.eligible.length; i += 500) {
    let chunk = resolved.eligible.slice(i, i + 500);
    if (resuming) {
      const missing = new Set(
        await missingRolloutAccounts(
          deps,
          header.rolloutId,
          chunk.map((c) => c.authorizerAppid),
        ),
      );
      chunk = chunk.filter((c) => missing.has(c.authorizerAppid));
    }
    await putRolloutAccounts(
      deps,
      chunk.map((c) => accountItem(header.rolloutId, c, now)),
    );
  }
  const set = {
    status: 'running',
    accountCount: resolved.eligible.length,
    skipped: resolved.skipped.slice(0, SKIPPED_KEPT),
    skippedCount: resolved.skipped.length,
  };
  await updateRolloutHeader(deps, header, { set, remove: ['planningUntil'] });
};

/** Creates and plans a rollout whose targets were resolved (and judged acceptable) by the caller. */
export const startRollout = async (deps: FleetDeps, request: RolloutRequest, resolved: ResolvedTargets): Promise<RolloutHeader> => {
  const now = nowSeconds(deps.clock);
  const header: RolloutHeader = {
    ...request,
    rolloutId: newRolloutId(deps.clock()),
    status: 'planning',
    phase: 1,
    planningUntil: now + PLANNING_LEASE_S,
    skipped: [],
    createdAt: now,
    updatedAt: now,
    version: 1,
  };
  await createRolloutHeader(deps, header);
  const first = resolved.eligible[0];
  if (first) await refreshQuotaIfStale(deps, first.authorizerAppid);
  await writeAccounts(deps, header, resolved, false);
  deps.logger.info('rollout.started', { rolloutId: header.rolloutId, accounts: resolved.eligible.length, skipped: resolved.skipped.length });
  return header;
};

/** Resumes a planning rollout whose planner's lease ran out (the sweep calls this). */
export const resumePlanning = async (deps: FleetDeps, header: RolloutHeader): Promise<boolean> => {
  const lease = { set: { planningUntil: nowSeconds(deps.clock) + PLANNING_LEASE_S } };
  if (!(await updateRolloutHeader(deps, header, lease))) return false;
  const resolved = await resolveTargets(deps, header.target);
  await writeAccounts(deps, { ...header, version: header.version + 1 }, resolved, true);
  deps.logger.warn('rollout.planning_resumed', { rolloutId: header.rolloutId, accounts: resolved.eligible.length });
  return true;
};
