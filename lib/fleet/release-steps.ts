// After submission (docs/fleet.md): apply the audit result WeChat pushed (or a poll found), release, gray-release,
// raise a gray release to everyone, or revert. Releases and reverts are claimed like commits and submissions.
import type { RolloutAccount, RolloutHeader, RolloutStage } from '../store/rollout-types.ts';
import { auditSeqOf } from '../store/rollouts.ts';
import type { AuditOutcome } from '../wechat/account-messages.ts';
import { isAlreadyReleased } from '../wechat/errors.ts';
import { claimStage, finishClaim, writeAccount, type Claim } from './account-writes.ts';
import { AUDIT_POLL_S, accountCaller, backoffS, stepError, type AccountCaller, type StepContext } from './context.ts';
import { failStep } from './steps.ts';

/** The percentage of a `gray:<n>` rollout, or undefined for auto and manual. */
export const grayPercent = (header: Pick<RolloutHeader, 'release'>): number | undefined =>
  header.release.startsWith('gray:') ? Number(header.release.slice('gray:'.length)) : undefined;

/** Whether an account whose audit passed should be released now. */
export const wantsRelease = (header: RolloutHeader, account: Pick<RolloutAccount, 'releaseRequested'>): boolean =>
  header.release !== 'manual' || header.releaseRequested === true || account.releaseRequested === true;

/** A result newer than the one the stage reflects. */
export const hasNewAudit = (account: RolloutAccount): boolean =>
  account.auditResult !== undefined && auditSeqOf(account.auditResult) > (account.auditAppliedSeq ?? -1);

const releaseStageOf = (header: RolloutHeader): RolloutStage => (grayPercent(header) === undefined ? 'releasing' : 'gray_releasing');

/** release / grayrelease under `held`; a gray release being raised to everyone goes to 100 %. */
export const releaseCall = async (ctx: StepContext, header: RolloutHeader, account: RolloutAccount, held: Claim, call: AccountCaller) => {
  const { wechat } = ctx.deps;
  let reached: RolloutStage = 'released';
  try {
    if (held.stage === 'gray_releasing') {
      const grayPercentage = grayPercent(header) ?? 100;
      await call((t) => wechat.grayRelease(t, { grayPercentage }));
      reached = 'gray_released';
    } else if (held.from === 'gray_released') {
      await call((t) => wechat.grayRelease(t, { grayPercentage: 100 }));
    } else {
      await call((t) => wechat.release(t));
    }
  } catch (error) {
    if (!isAlreadyReleased(error)) return failStep(ctx, header, account, held, error);
  }
  await finishClaim(ctx, header, account, held, reached, { remove: ['releaseRequested'] });
};

/** audit_succeeded → releasing / gray_releasing → released / gray_released; gray_released → released on request. */
export const releaseStep = async (ctx: StepContext, header: RolloutHeader, account: RolloutAccount): Promise<void> => {
  const stage = account.stage === 'gray_released' ? 'releasing' : releaseStageOf(header);
  const held = await claimStage(ctx, header, account, stage);
  if (held) await releaseCall(ctx, header, account, held, accountCaller(ctx.deps, account.authorizerAppid));
};

export const revertCall = async (ctx: StepContext, header: RolloutHeader, account: RolloutAccount, held: Claim, call: AccountCaller) => {
  try {
    if (held.from === 'gray_released') await call((t) => ctx.deps.wechat.revertGrayRelease(t));
    else await call((t) => ctx.deps.wechat.revertCodeRelease(t));
  } catch (error) {
    return failStep(ctx, header, account, held, error);
  }
  await finishClaim(ctx, header, account, held, 'reverted', { remove: ['revertRequested'] });
};

/** released / gray_released → reverting → reverted (revertcoderelease, or revertgrayrelease for a gray release). */
export const revertStep = async (ctx: StepContext, header: RolloutHeader, account: RolloutAccount): Promise<void> => {
  const held = await claimStage(ctx, header, account, 'reverting');
  if (held) await revertCall(ctx, header, account, held, accountCaller(ctx.deps, account.authorizerAppid));
};

/** Moves the stage to the newest audit result; a pass goes straight on to the release when one is wanted. */
export const applyAuditStep = async (ctx: StepContext, header: RolloutHeader, account: RolloutAccount): Promise<void> => {
  const audit = account.auditResult;
  if (!audit) return;
  const expect = { version: account.version };
  const set = { auditAppliedSeq: auditSeqOf(audit) };
  if (audit.outcome === 'fail') {
    await writeAccount(ctx, header, account, expect, { stage: 'audit_failed', announce: 'audit_failed', audit, set, remove: ['nextAttemptAt'] });
  } else if (audit.outcome === 'delay') {
    const delayed = { ...set, nextAttemptAt: ctx.now() + AUDIT_POLL_S };
    await writeAccount(ctx, header, account, expect, { stage: 'audit_delayed', announce: 'audit_delayed', audit, set: delayed });
  } else if (!header.halted && wantsRelease(header, account)) {
    const move = { announce: 'audit_succeeded' as const, audit, set, from: 'audit_succeeded' as const };
    const held = await claimStage(ctx, header, account, releaseStageOf(header), move);
    if (held) await releaseCall(ctx, header, account, held, accountCaller(ctx.deps, account.authorizerAppid));
  } else {
    await writeAccount(ctx, header, account, expect, {
      stage: 'audit_succeeded',
      announce: 'audit_succeeded',
      audit,
      set,
      remove: ['nextAttemptAt'],
    });
  }
};

/** An audit without a result long after submission (a push lost): ask get_auditstatus; a final status is recorded. */
export const pollAuditStep = async (ctx: StepContext, header: RolloutHeader, account: RolloutAccount): Promise<void> => {
  const expect = { version: account.version };
  const now = ctx.now();
  const auditId = account.auditId;
  if (auditId === undefined) return void (await writeAccount(ctx, header, account, expect, { set: { nextAttemptAt: now + AUDIT_POLL_S } }));
  const call = accountCaller(ctx.deps, account.authorizerAppid);
  let status: Awaited<ReturnType<typeof ctx.deps.wechat.getAuditStatus>>;
  try {
    status = await call((t) => ctx.deps.wechat.getAuditStatus(t, { auditId }));
  } catch (error) {
    const attempts = (account.attempts ?? 0) + 1;
    await writeAccount(ctx, header, account, expect, {
      set: { attempts, lastError: stepError(error, now), nextAttemptAt: now + backoffS(attempts) },
    });
    return;
  }
  if (status.status === 2) return void (await writeAccount(ctx, header, account, expect, { set: { nextAttemptAt: now + AUDIT_POLL_S } }));
  if (status.status === 3) {
    const lastError = { message: 'the audit was withdrawn (undocodeaudit) outside this rollout', at: now };
    return void (await writeAccount(ctx, header, account, expect, { stage: 'failed', announce: 'failed', error: lastError, set: { lastError } }));
  }
  const outcome: AuditOutcome = status.status === 0 ? 'success' : status.status === 1 ? 'fail' : 'delay';
  const auditResult = { outcome, at: now, ...(status.reason ? { reason: status.reason } : {}), screenshots: [...status.screenshots] };
  await writeAccount(ctx, header, account, expect, { set: { auditResult, auditSeq: auditSeqOf(auditResult), nextAttemptAt: now + AUDIT_POLL_S } });
};
