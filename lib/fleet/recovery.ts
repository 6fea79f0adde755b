// Recovery of a claim whose holder is gone (docs/fleet.md): the function died or timed out between its claim and
// its result, or WeChat gave no answer. Before anything is repeated, WeChat's own state says whether the call
// landed: the trial version (getversioninfo) for a commit, the latest audit (get_latest_auditstatus) for a
// submission, the live version for a release or revert, the gray plan for a gray release. A call that landed is
// finished as if it had answered; one that did not is made again under the new claim.
import type { RolloutAccount, RolloutHeader } from '../store/rollout-types.ts';
import { finishClaim, retakeClaim, type Claim } from './account-writes.ts';
import { accountCaller, WECHAT_CLOCK_SKEW_S, type AccountCaller, type StepContext } from './context.ts';
import { grayPercent, releaseCall, revertCall } from './release-steps.ts';
import { afterCommit, commitCall, failStep, ownAudit, submitCall, submitted } from './steps.ts';

type Check = (ctx: StepContext, header: RolloutHeader, held: Claim, call: AccountCaller) => Promise<boolean>;

const trialIsOurs: Check = async (ctx, header, held, call) => {
  const { trial } = await call((t) => ctx.deps.wechat.getVersionInfo(t));
  return trial?.version === header.userVersion && trial.time >= held.claimedAt - WECHAT_CLOCK_SKEW_S;
};

const liveIsOurs: Check = async (ctx, header, _held, call) =>
  (await call((t) => ctx.deps.wechat.getVersionInfo(t))).live?.version === header.userVersion;

const grayReached =
  (percent: number): Check =>
  async (ctx, _header, _held, call) => {
    const plan = await call((t) => ctx.deps.wechat.getGrayReleasePlan(t));
    return (plan.status === 1 || plan.status === 3) && plan.grayPercentage >= percent;
  };

const recoverWith = async (
  ctx: StepContext,
  header: RolloutHeader,
  account: RolloutAccount,
  held: Claim,
  call: AccountCaller,
  check: Check,
  then: { landed: () => Promise<unknown>; redo: () => Promise<unknown> },
) => {
  let landed: boolean;
  try {
    landed = await check(ctx, header, held, call);
  } catch (error) {
    return failStep(ctx, header, account, held, error);
  }
  ctx.deps.logger.info('rollout.recovered', { rolloutId: account.rolloutId, authorizerAppid: account.authorizerAppid, stage: held.stage, landed });
  await (landed ? then.landed() : then.redo());
};

/** A submission is found by its audit (this user_version, submitted since the claim), which also gives its id. */
const recoverSubmission = async (ctx: StepContext, header: RolloutHeader, account: RolloutAccount, held: Claim, call: AccountCaller) => {
  let mine: Awaited<ReturnType<typeof ownAudit>>;
  try {
    mine = await ownAudit(ctx, header, call, held);
  } catch (error) {
    return failStep(ctx, header, account, held, error);
  }
  ctx.deps.logger.info('rollout.recovered', {
    rolloutId: account.rolloutId,
    authorizerAppid: account.authorizerAppid,
    stage: held.stage,
    landed: !!mine,
  });
  await (mine ? submitted(ctx, header, account, held, mine) : submitCall(ctx, header, account, held, call));
};

/** Takes over an expired claim and finishes or repeats its call, whichever WeChat's state calls for. */
export const recoverStep = async (ctx: StepContext, header: RolloutHeader, account: RolloutAccount): Promise<void> => {
  const held = await retakeClaim(ctx, header, account);
  if (!held) return;
  const call = accountCaller(ctx.deps, account.authorizerAppid);
  const args = [ctx, header, account, held, call] as const;
  switch (held.stage) {
    case 'committing':
      return recoverWith(...args, trialIsOurs, { landed: () => afterCommit(...args), redo: () => commitCall(...args) });
    case 'submitting':
      return recoverSubmission(...args);
    case 'releasing': {
      const check = held.from === 'gray_released' ? grayReached(100) : liveIsOurs;
      return recoverWith(...args, check, { landed: () => finishClaim(ctx, header, account, held, 'released'), redo: () => releaseCall(...args) });
    }
    case 'gray_releasing':
      return recoverWith(...args, grayReached(grayPercent(header) ?? 100), {
        landed: () => finishClaim(ctx, header, account, held, 'gray_released'),
        redo: () => releaseCall(...args),
      });
    case 'reverting': {
      const grayGone: Check = async (c, _h, _held, cl) => (await cl((t) => c.deps.wechat.getGrayReleasePlan(t))).status !== 1;
      const reverted: Check = held.from === 'gray_released' ? grayGone : async (...a) => !(await liveIsOurs(...a));
      return recoverWith(...args, reverted, { landed: () => finishClaim(ctx, header, account, held, 'reverted'), redo: () => revertCall(...args) });
    }
    default:
      ctx.deps.logger.warn('rollout.recover_unexpected', {
        rolloutId: account.rolloutId,
        authorizerAppid: account.authorizerAppid,
        stage: held.stage,
      });
  }
};
