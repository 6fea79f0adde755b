// Commit and submission, the two calls of a rollout that WeChat must never see twice (docs/fleet.md). Each is made
// only under a claim taken by a conditional write before the call; what happens after a failure depends on what
// the failure says about WeChat's state (lib/wechat/errors.ts codeCallPolicy): refused for now → back to the stage
// it came from with a backoff; refused for good → failed; no answer → the claim stays, marked uncertain, and the
// recovery (recovery.ts) reads WeChat's state before anything is repeated.
import type { RolloutAccount, RolloutHeader } from '../store/rollout-types.ts';
import { auditSeqOf } from '../store/rollouts.ts';
import { currentRolloutPut, refundSubmission, reserveSubmission, saveSubmitQuota } from '../store/rollout-targets.ts';
import type { LatestAuditStatus } from '../wechat/code-management-types.ts';
import { isAlreadyAuditing, isNoAudit } from '../wechat/errors.ts';
import { claimStage, finishClaim, handOnClaim, releaseClaim, writeAccount, type Claim } from './account-writes.ts';
import {
  AUDIT_POLL_S,
  accountCaller,
  backoffS,
  ROLLOUT_STEP_MAX_ATTEMPTS,
  QUOTA_RECHECK_S,
  stepError,
  stepPolicy,
  WECHAT_CLOCK_SKEW_S,
  type AccountCaller,
  type StepContext,
} from './context.ts';

/** The ext.json of one mini program: the rollout's document with `extAppid` set to it, unless the document sets one. */
export const extJsonFor = (header: Pick<RolloutHeader, 'extJson'>, appid: string): string => {
  const doc = header.extJson ? (JSON.parse(header.extJson) as Record<string, unknown>) : {};
  return JSON.stringify({ ...doc, extAppid: doc.extAppid ?? appid });
};

/** Records a failed call under `held` and decides what comes next (see the top of this file). */
export const failStep = async (ctx: StepContext, header: RolloutHeader, account: RolloutAccount, held: Claim, error: unknown): Promise<void> => {
  const now = ctx.now();
  const policy = stepPolicy(error);
  const lastError = stepError(error, now);
  const attempts = (account.attempts ?? 0) + 1;
  const ids = { rolloutId: account.rolloutId, authorizerAppid: account.authorizerAppid, stage: held.stage, attempts, policy: policy.kind };
  ctx.deps.logger.warn('rollout.step_failed', { ...ids, api: lastError.api, errcode: lastError.errcode }, error);
  if (policy.kind === 'quota') {
    await saveSubmitQuota(ctx.deps, ctx.deps.config.componentAppId, { rest: 0 });
    await releaseClaim(ctx, header, account, held, {
      stage: 'committed',
      nextAttemptAt: now + QUOTA_RECHECK_S,
      set: { blockedBy: 'quota', lastError },
    });
    return;
  }
  if (policy.kind === 'permanent' || attempts >= ROLLOUT_STEP_MAX_ATTEMPTS) {
    await finishClaim(ctx, header, account, held, 'failed', { error: lastError, set: { lastError, attempts, failedStep: held.stage } });
    return;
  }
  if (policy.kind === 'unknown') {
    await writeAccount(
      ctx,
      header,
      account,
      { claimId: held.claimId },
      { set: { uncertain: true, claimUntil: now + backoffS(attempts), attempts, lastError } },
    );
    return;
  }
  await releaseClaim(ctx, header, account, held, {
    nextAttemptAt: now + backoffS(attempts, policy.kind === 'retry' ? policy.afterS : 0),
    set: { attempts, lastError },
  });
};

/** The latest audit, if it is this rollout's submission (same user_version, submitted since the claim began). */
export const ownAudit = async (ctx: StepContext, header: RolloutHeader, call: AccountCaller, held: Claim): Promise<LatestAuditStatus | undefined> => {
  const latest = await call((t) => ctx.deps.wechat.getLatestAuditStatus(t)).catch((error: unknown) => {
    if (isNoAudit(error)) return undefined;
    throw error;
  });
  const mine = latest && latest.userVersion === header.userVersion && (latest.submitAuditTime ?? 0) >= held.claimedAt - WECHAT_CLOCK_SKEW_S;
  return mine ? latest : undefined;
};

const AUDIT_OUTCOMES = { 0: 'success', 1: 'fail', 4: 'delay' } as const;

/** Submission landed (the call's answer, or found by a recovery): submitted, with any final status already known. */
export const submitted = (
  ctx: StepContext,
  header: RolloutHeader,
  account: RolloutAccount,
  held: Claim,
  audit: { auditId: number; status?: number },
) => {
  const now = ctx.now();
  const outcome = AUDIT_OUTCOMES[audit.status as keyof typeof AUDIT_OUTCOMES];
  const auditResult = outcome ? { outcome, at: now, screenshots: [] } : undefined;
  const recorded = auditResult ? { auditResult, auditSeq: auditSeqOf(auditResult) } : {};
  return finishClaim(ctx, header, account, held, 'submitted', {
    auditId: audit.auditId,
    set: { auditId: audit.auditId, submittedAt: now, nextAttemptAt: now + AUDIT_POLL_S, ...recorded },
  });
};

/** submit_audit under `held` (privacy guideline first when the rollout sets one). Only WeChat's answers are handled here. */
export const submitCall = async (
  ctx: StepContext,
  header: RolloutHeader,
  account: RolloutAccount,
  held: Claim,
  call: AccountCaller,
): Promise<void> => {
  const { wechat, config } = ctx.deps;
  let auditId: number;
  try {
    if (header.privacySetting) {
      const setting = header.privacySetting;
      await call((t) => wechat.setPrivacySetting(t, setting));
    }
    auditId = (await call((t) => wechat.submitAudit(t, header.submit ?? {}))).auditId;
  } catch (error) {
    // 85009 right after our own landed submission (an answer lost, a retried -1): it is ours, nothing to repeat.
    const mine = isAlreadyAuditing(error) ? await ownAudit(ctx, header, call, held).catch(() => undefined) : undefined;
    if (mine) return void (await submitted(ctx, header, account, held, mine));
    const kind = stepPolicy(error).kind;
    if (kind === 'retry' || kind === 'permanent') await refundSubmission(ctx.deps, config.componentAppId);
    return failStep(ctx, header, account, held, error);
  }
  await submitted(ctx, header, account, held, { auditId });
};

/** After a commit landed: done (no audit wanted), waiting for quota, or on to submission under the same claim. */
export const afterCommit = async (ctx: StepContext, header: RolloutHeader, account: RolloutAccount, held: Claim, call: AccountCaller) => {
  const { componentAppId } = ctx.deps.config;
  if (!header.submitAudit || header.halted) return void (await finishClaim(ctx, header, account, held, 'committed'));
  if (!(await reserveSubmission(ctx.deps, componentAppId))) {
    const set = { blockedBy: 'quota', nextAttemptAt: ctx.now() + QUOTA_RECHECK_S };
    return void (await finishClaim(ctx, header, account, held, 'committed', { set }));
  }
  const next = await handOnClaim(ctx, header, account, held, 'committed', 'submitting', {
    extra: [currentRolloutPut(ctx.deps, account.authorizerAppid, account.rolloutId)],
  });
  if (!next) return void (await refundSubmission(ctx.deps, componentAppId));
  await submitCall(ctx, header, account, next, call);
};

/** commit under `held`, then on. */
export const commitCall = async (ctx: StepContext, header: RolloutHeader, account: RolloutAccount, held: Claim, call: AccountCaller) => {
  const input = {
    templateId: header.templateId,
    extJson: extJsonFor(header, account.authorizerAppid),
    userVersion: header.userVersion,
    userDesc: header.userDesc,
  };
  try {
    await call((t) => ctx.deps.wechat.commit(t, input));
  } catch (error) {
    return failStep(ctx, header, account, held, error);
  }
  await afterCommit(ctx, header, account, held, call);
};

/** pending → committing → (committed →) submitting → submitted. */
export const commitStep = async (ctx: StepContext, header: RolloutHeader, account: RolloutAccount): Promise<void> => {
  const held = await claimStage(ctx, header, account, 'committing');
  if (held) await commitCall(ctx, header, account, held, accountCaller(ctx.deps, account.authorizerAppid));
};

/** committed → submitting → submitted, once the quota allows. */
export const submitStep = async (ctx: StepContext, header: RolloutHeader, account: RolloutAccount): Promise<void> => {
  const { componentAppId } = ctx.deps.config;
  if (!(await reserveSubmission(ctx.deps, componentAppId))) {
    await writeAccount(
      ctx,
      header,
      account,
      { version: account.version },
      { set: { blockedBy: 'quota', nextAttemptAt: ctx.now() + QUOTA_RECHECK_S } },
    );
    return;
  }
  const held = await claimStage(ctx, header, account, 'submitting', {
    extra: [currentRolloutPut(ctx.deps, account.authorizerAppid, account.rolloutId)],
  });
  if (!held) return void (await refundSubmission(ctx.deps, componentAppId));
  await submitCall(ctx, header, account, held, accountCaller(ctx.deps, account.authorizerAppid));
};
