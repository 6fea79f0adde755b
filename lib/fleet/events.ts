// The events a rollout puts on the bus (docs/fleet.md, DetailTypes of docs/architecture.md §6), built as outbox
// items for the transaction that makes the change they report. Ids are derived from the change, so a retried
// write carries the same id and the event is delivered once.
import { stableEventId, type OutboxEvent } from '../store/outbox.ts';
import type { AuditRecord, RolloutAccount, RolloutHeader, RolloutStage, StepError } from '../store/rollout-types.ts';
import type { AuditOutcome } from '../wechat/account-messages.ts';

/** The DetailTypes of the fleet, exactly as the event catalogue names them. */
export const FLEET_DETAIL_TYPES = {
  auditSucceeded: 'Mini Program Audit Succeeded',
  auditFailed: 'Mini Program Audit Failed',
  auditDelayed: 'Mini Program Audit Delayed',
  accountUpdated: 'Rollout Account Updated',
  completed: 'Rollout Completed',
} as const;

const AUDIT_TYPES: Readonly<Record<AuditOutcome, string>> = {
  success: FLEET_DETAIL_TYPES.auditSucceeded,
  fail: FLEET_DETAIL_TYPES.auditFailed,
  delay: FLEET_DETAIL_TYPES.auditDelayed,
};

const iso = (epochS: number): string => new Date(epochS * 1000).toISOString();

/** One audit result push, reported once (its id derives from the EVENT item that recorded the push). */
export const auditEvent = (input: {
  pushId: string;
  authorizerAppid: string;
  result: AuditRecord;
  rolloutId?: string;
  tenant?: string;
  occurredAt: number;
}): OutboxEvent => ({
  eventId: stableEventId('audit-result', input.pushId),
  detailType: AUDIT_TYPES[input.result.outcome],
  detail: {
    authorizerAppid: input.authorizerAppid,
    ...(input.tenant ? { tenant: input.tenant } : {}),
    ...(input.rolloutId ? { rolloutId: input.rolloutId } : {}),
    auditedAt: iso(input.result.at),
    ...(input.result.reason ? { reason: input.result.reason } : {}),
    ...(input.result.screenshots.length > 0 ? { screenshots: [...input.result.screenshots] } : {}),
  },
  occurredAt: input.occurredAt,
});

const errorDetail = (e: StepError) => ({
  ...(e.api ? { api: e.api } : {}),
  ...(e.errcode !== undefined ? { errcode: e.errcode } : {}),
  message: e.message,
});

/**
 * An account reached `stage`. `change` identifies the write (the version or claim it was conditioned on), so the
 * same change always has the same id and two changes never share one.
 */
export const accountUpdatedEvent = (
  header: Pick<RolloutHeader, 'rolloutId' | 'templateId' | 'userVersion'>,
  account: Pick<RolloutAccount, 'authorizerAppid' | 'tenant' | 'attempts'>,
  input: { stage: RolloutStage; change: string | number; auditId?: number; audit?: AuditRecord; error?: StepError; occurredAt: number },
): OutboxEvent => ({
  eventId: stableEventId('rollout-account', header.rolloutId, account.authorizerAppid, input.stage, input.change),
  detailType: FLEET_DETAIL_TYPES.accountUpdated,
  detail: {
    rolloutId: header.rolloutId,
    authorizerAppid: account.authorizerAppid,
    ...(account.tenant ? { tenant: account.tenant } : {}),
    stage: input.stage,
    templateId: header.templateId,
    userVersion: header.userVersion,
    ...(input.auditId !== undefined ? { auditId: input.auditId } : {}),
    ...(input.audit?.reason ? { reason: input.audit.reason } : {}),
    ...(input.error ? { error: errorDetail(input.error) } : {}),
  },
  occurredAt: input.occurredAt,
});

export const rolloutCompletedEvent = (header: RolloutHeader, counts: Readonly<Record<string, number>>, occurredAt: number): OutboxEvent => ({
  eventId: stableEventId('rollout-completed', header.rolloutId, header.phase),
  detailType: FLEET_DETAIL_TYPES.completed,
  detail: {
    rolloutId: header.rolloutId,
    phase: header.phase,
    templateId: header.templateId,
    userVersion: header.userVersion,
    release: header.release,
    accounts: Object.values(counts).reduce((a, b) => a + b, 0),
    stages: { ...counts },
  },
  occurredAt,
});
