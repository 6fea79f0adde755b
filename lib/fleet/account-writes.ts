// The writes a rollout step makes to its account item (docs/fleet.md): claim a stage before calling WeChat, finish
// or hand the claim on after the call, record a failure with its backoff. Public stages are announced with a
// `Rollout Account Updated` event in the same transaction.
import type { AuditRecord, RolloutAccount, RolloutHeader, RolloutStage, StepError } from '../store/rollout-types.ts';
import { updateRolloutAccount, type AccountGuard } from '../store/rollouts.ts';
import { accountUpdatedEvent } from './events.ts';
import { CLAIM_S, type StepContext } from './context.ts';

/** A claim this step holds: its id, when the first try of this call began, and the public stage it came from. */
export interface Claim {
  readonly claimId: string;
  /** The claimed stage (`committing`, `submitting`, …). */
  readonly stage: RolloutStage;
  readonly claimedAt: number;
  readonly from: RolloutStage;
}

const CLAIM_FIELDS = ['claimId', 'claimUntil', 'claimedAt', 'claimFrom', 'uncertain'];

export interface Move {
  readonly stage?: RolloutStage;
  readonly set?: Readonly<Record<string, unknown>>;
  readonly remove?: readonly string[];
  /** The public stage to announce (Rollout Account Updated), if any. */
  readonly announce?: RolloutStage;
  readonly auditId?: number;
  readonly audit?: AuditRecord;
  readonly error?: StepError;
  readonly extra?: readonly Record<string, unknown>[];
}

const changeId = (expect: AccountGuard): string | number => ('version' in expect ? expect.version : 'claimId' in expect ? expect.claimId : 'x');

/** One conditional write of the account; false when it moved on meanwhile (someone else acted). */
export const writeAccount = (
  ctx: StepContext,
  header: RolloutHeader,
  account: RolloutAccount,
  expect: AccountGuard,
  move: Move,
): Promise<boolean> => {
  const event =
    move.announce &&
    accountUpdatedEvent(ctx.deps, header, account, {
      stage: move.announce,
      change: changeId(expect),
      ...(move.auditId !== undefined ? { auditId: move.auditId } : {}),
      ...(move.audit ? { audit: move.audit } : {}),
      ...(move.error ? { error: move.error } : {}),
      occurredAt: ctx.deps.clock(),
    });
  const set = { ...(move.stage ? { stage: move.stage } : {}), ...move.set };
  return updateRolloutAccount(ctx.deps, account, expect, {
    set,
    // A field both set and removed is set: DynamoDB refuses an update naming one path twice.
    remove: [...new Set(move.remove ?? [])].filter((name) => !(name in set)),
    events: event ? [event] : [],
    extra: move.extra ?? [],
  });
};

/**
 * Takes `stage` as a claim, from the exact version the step decided on. Undefined when another consumer got there
 * first. `move` may announce the public stage passed on the way (e.g. audit_succeeded on the way to releasing).
 */
export const claimStage = async (
  ctx: StepContext,
  header: RolloutHeader,
  account: RolloutAccount,
  stage: RolloutStage,
  move: Move & { from?: RolloutStage } = {},
): Promise<Claim | undefined> => {
  const now = ctx.now();
  const taken: Claim = { claimId: ctx.newClaimId(), stage, claimedAt: now, from: move.from ?? account.stage };
  const set = { claimId: taken.claimId, claimUntil: now + CLAIM_S, claimedAt: now, claimFrom: taken.from, ...move.set };
  const remove = ['nextAttemptAt', 'blockedBy', 'uncertain', ...(move.remove ?? [])];
  const ok = await writeAccount(ctx, header, account, { version: account.version }, { ...move, stage, set, remove });
  return ok ? taken : undefined;
};

/** Takes over a claim whose holder ran out of time; claimedAt and the stage it came from stay, for the recovery check. */
export const retakeClaim = async (ctx: StepContext, header: RolloutHeader, account: RolloutAccount): Promise<Claim | undefined> => {
  const claimId = ctx.newClaimId();
  const ok = await writeAccount(
    ctx,
    header,
    account,
    { version: account.version },
    { set: { claimId, claimUntil: ctx.now() + CLAIM_S }, remove: ['nextAttemptAt'] },
  );
  const claimedAt = account.claimedAt ?? ctx.now();
  const from = account.claimFrom ?? 'pending';
  return ok ? { claimId, stage: account.stage, claimedAt, from } : undefined;
};

/** Ends the claim at `stage` (attempts reset, error cleared), announcing it. */
export const finishClaim = (ctx: StepContext, header: RolloutHeader, account: RolloutAccount, held: Claim, stage: RolloutStage, move: Move = {}) =>
  writeAccount(
    ctx,
    header,
    account,
    { claimId: held.claimId },
    {
      announce: stage,
      ...move,
      stage,
      set: { attempts: 0, ...move.set },
      remove: [...CLAIM_FIELDS, 'lastError', 'nextAttemptAt', 'blockedBy', ...(move.remove ?? [])],
    },
  );

/** Announces `passed` and keeps the claim for the next call (`next`), e.g. committed → submitting. */
export const handOnClaim = async (
  ctx: StepContext,
  header: RolloutHeader,
  account: RolloutAccount,
  held: Claim,
  passed: RolloutStage,
  next: RolloutStage,
  move: Move = {},
): Promise<Claim | undefined> => {
  const now = ctx.now();
  const set = { attempts: 0, claimUntil: now + CLAIM_S, claimedAt: now, claimFrom: passed, ...move.set };
  const ok = await writeAccount(
    ctx,
    header,
    account,
    { claimId: held.claimId },
    { announce: passed, ...move, stage: next, set, remove: ['lastError', 'uncertain', ...(move.remove ?? [])] },
  );
  return ok ? { claimId: held.claimId, stage: next, claimedAt: now, from: passed } : undefined;
};

/** Gives the claim back to the stage it came from, to be tried again at `nextAttemptAt`. */
export const releaseClaim = (ctx: StepContext, header: RolloutHeader, account: RolloutAccount, held: Claim, move: Move & { nextAttemptAt: number }) =>
  writeAccount(
    ctx,
    header,
    account,
    { claimId: held.claimId },
    {
      ...move,
      stage: move.stage ?? held.from,
      set: { nextAttemptAt: move.nextAttemptAt, ...move.set },
      remove: CLAIM_FIELDS,
    },
  );
