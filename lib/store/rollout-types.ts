// The shapes of the rollout items (docs/fleet.md). Times are epoch seconds.
import type { PrivacySettingInput, SubmitAuditInput } from '../wechat/code-management-types.ts';
import type { AuditOutcome } from '../wechat/account-messages.ts';

/**
 * Where one mini program is in a rollout. The `…ing` stages are claims: the step that holds one is calling
 * WeChat right now (or died doing so, and after `claimUntil` a recovery reads WeChat's state before repeating).
 */
export type RolloutStage =
  | 'pending'
  | 'committing'
  | 'committed'
  | 'submitting'
  | 'submitted'
  | 'audit_succeeded'
  | 'audit_failed'
  | 'audit_delayed'
  | 'releasing'
  | 'released'
  | 'gray_releasing'
  | 'gray_released'
  | 'reverting'
  | 'reverted'
  | 'failed';

export const ROLLOUT_STAGES: readonly RolloutStage[] = [
  'pending',
  'committing',
  'committed',
  'submitting',
  'submitted',
  'audit_succeeded',
  'audit_failed',
  'audit_delayed',
  'releasing',
  'released',
  'gray_releasing',
  'gray_released',
  'reverting',
  'reverted',
  'failed',
];

/** `auto` releases each account as its audit passes, `manual` waits for the `release` action, `gray:<n>` phases n %. */
export type ReleaseMode = 'auto' | 'manual' | `gray:${number}`;

export type RolloutTarget =
  | { readonly kind: 'authorizers'; readonly appids: readonly string[] }
  | { readonly kind: 'tenant'; readonly tenant: string }
  | { readonly kind: 'all' };

export interface RolloutHeader {
  readonly rolloutId: string;
  readonly templateId: number;
  readonly userVersion: string;
  readonly userDesc: string;
  /** The ext.json document as a JSON text; each account's commit sets its own `extAppid` in it. */
  readonly extJson?: string;
  readonly submitAudit: boolean;
  readonly release: ReleaseMode;
  /** submit_audit fields beyond the defaults (item list, privacy_api_not_use, …). */
  readonly submit?: SubmitAuditInput;
  /** Set on each mini program before it is submitted (the guideline gates the audit). */
  readonly privacySetting?: PrivacySettingInput;
  readonly target: RolloutTarget;
  /** planning: accounts being written; running: steps under way; completed: every account settled. */
  readonly status: 'planning' | 'running' | 'completed';
  /** Incremented by `release` and `revert`, which reopen a completed rollout: one Rollout Completed per phase. */
  readonly phase: number;
  /** The planner's lease: a planning header past it is resumed by the sweep. */
  readonly planningUntil: number;
  readonly accountCount?: number;
  /** Targets left out at planning, with why (not a mini program, permission set 18 missing, not authorized). */
  readonly skipped: readonly { readonly authorizerAppid: string; readonly reason: string }[];
  /** How many were skipped (`skipped` keeps the first 100). */
  readonly skippedCount?: number;
  /** `release` was asked for (manual mode): accounts passing their audit later are released too. */
  readonly releaseRequested?: boolean;
  /** `revert` was asked for: nothing moves forward any more. */
  readonly halted?: boolean;
  readonly createdAt: number;
  readonly completedAt?: number;
  readonly updatedAt: number;
  readonly version: number;
}

export interface StepError {
  /** The WeChat API that failed (`wxa/commit`), when it was a WeChat call. */
  readonly api?: string;
  readonly errcode?: number;
  /** WeChat's errmsg as sent (with its rid), or the error's message. */
  readonly message: string;
  readonly at: number;
}

export interface AuditRecord {
  readonly outcome: AuditOutcome;
  readonly at: number;
  readonly reason?: string;
  readonly screenshots: readonly string[];
}

export interface RolloutAccount {
  readonly rolloutId: string;
  readonly authorizerAppid: string;
  readonly tenant?: string;
  readonly stage: RolloutStage;
  readonly version: number;
  /** Failed tries of the current step (reset when a step lands). */
  readonly attempts: number;
  readonly lastError?: StepError;
  /** The claimed stage whose call failed for good (stage `failed`). */
  readonly failedStep?: RolloutStage;
  /** When the account may be woken again (backoff, the quota's return, the next audit poll). */
  readonly nextAttemptAt?: number;
  /** Set while submission waits for the component's quota. */
  readonly blockedBy?: 'quota';
  readonly claimId?: string;
  readonly claimUntil?: number;
  readonly claimedAt?: number;
  /** The public stage the claim was taken from: where a refused call goes back to. */
  readonly claimFrom?: RolloutStage;
  /** The claim's call may have reached WeChat (no answer): WeChat's state is read before anything is repeated. */
  readonly uncertain?: boolean;
  readonly auditId?: number;
  readonly submittedAt?: number;
  /** The newest audit result WeChat pushed (or a poll found); the step moves the stage to match it. */
  readonly auditResult?: AuditRecord;
  /** The order (auditSeqOf) of the newest result recorded, and of the one the stage reflects: each is applied once. */
  readonly auditSeq?: number;
  readonly auditAppliedSeq?: number;
  readonly releaseRequested?: boolean;
  readonly revertRequested?: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
}
