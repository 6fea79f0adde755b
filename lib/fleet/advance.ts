// One step of one account (docs/fleet.md): from its item as the stream delivered it, decide what comes next and do
// it. The decision reads only the item and its rollout's header; every write it leads to is conditioned on the
// item being exactly as read, so a stale or repeated stream record does nothing.
import type { RolloutAccount, RolloutHeader, RolloutStage } from '../store/rollout-types.ts';
import type { StepContext } from './context.ts';
import { recoverStep } from './recovery.ts';
import { applyAuditStep, hasNewAudit, pollAuditStep, releaseStep, revertStep, wantsRelease } from './release-steps.ts';
import { commitStep, submitStep } from './steps.ts';

export type StepName = 'commit' | 'submit' | 'applyAudit' | 'pollAudit' | 'release' | 'revert' | 'recover';

/** The stages held as claims while WeChat is being called. */
export const CLAIMED_STAGES: ReadonlySet<RolloutStage> = new Set(['committing', 'submitting', 'releasing', 'gray_releasing', 'reverting']);

/** What the account needs now, or undefined when it waits (for WeChat, the quota, a backoff, the operator) or is done. */
export const nextStep = (header: RolloutHeader, account: RolloutAccount, now: number): StepName | undefined => {
  if (CLAIMED_STAGES.has(account.stage)) return (account.claimUntil ?? 0) <= now ? 'recover' : undefined;
  const due = (account.nextAttemptAt ?? 0) <= now;
  const forward = header.halted !== true;
  switch (account.stage) {
    case 'pending':
      return forward && due ? 'commit' : undefined;
    case 'committed':
      return forward && header.submitAudit && due ? 'submit' : undefined;
    case 'submitted':
    case 'audit_delayed':
      if (hasNewAudit(account)) return 'applyAudit';
      return due ? 'pollAudit' : undefined;
    case 'audit_succeeded':
      return forward && due && wantsRelease(header, account) ? 'release' : undefined;
    case 'released':
      return account.revertRequested && due ? 'revert' : undefined;
    case 'gray_released':
      if (account.revertRequested && due) return 'revert';
      return forward && due && account.releaseRequested ? 'release' : undefined;
    default:
      return undefined;
  }
};

const STEPS: Readonly<Record<StepName, (ctx: StepContext, header: RolloutHeader, account: RolloutAccount) => Promise<void>>> = {
  commit: commitStep,
  submit: submitStep,
  applyAudit: applyAuditStep,
  pollAudit: pollAuditStep,
  release: releaseStep,
  revert: revertStep,
  recover: recoverStep,
};

/** Runs the step the account needs, if any; returns its name. */
export const advanceAccount = async (ctx: StepContext, account: RolloutAccount): Promise<StepName | undefined> => {
  const header = await ctx.header(account.rolloutId);
  if (!header) {
    ctx.deps.logger.warn('rollout.header_missing', { rolloutId: account.rolloutId, authorizerAppid: account.authorizerAppid });
    return undefined;
  }
  const step = nextStep(header, account, ctx.now());
  if (step) await STEPS[step](ctx, header, account);
  return step;
};
