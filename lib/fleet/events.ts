// The events a rollout puts on the bus (docs/fleet.md; schemas in docs/events/), built with the catalogue's
// buildEvent for the transaction that makes the change they report. Identities are derived from the change, so
// a retried write carries the same eventId and the event is delivered once.
import { buildEvent, DetailType } from '../events/catalogue.ts';
import type { OutboxEvent } from '../store/outbox.ts';
import type { AuditRecord, RolloutAccount, RolloutHeader, RolloutStage, StepError } from '../store/rollout-types.ts';
import type { AuditOutcome } from '../wechat/account-messages.ts';

type EventDeps = { readonly config: { readonly componentAppId: string } };

const AUDIT_TYPES = {
  success: DetailType.MiniProgramAuditSucceeded,
  fail: DetailType.MiniProgramAuditFailed,
  delay: DetailType.MiniProgramAuditDelayed,
} as const satisfies Record<AuditOutcome, string>;

const iso = (epochS: number): string => new Date(epochS * 1000).toISOString();

/** One audit result push, reported once (its identity is the EVENT item that recorded the push). */
export const auditEvent = (
  deps: EventDeps,
  input: { pushId: string; authorizerAppid: string; result: AuditRecord; rolloutId?: string; tenant?: string; occurredAt: number },
): OutboxEvent =>
  buildEvent(deps, {
    detailType: AUDIT_TYPES[input.result.outcome],
    identity: ['audit-result', input.pushId],
    occurredAt: input.occurredAt,
    authorizerAppid: input.authorizerAppid,
    ...(input.tenant ? { tenant: input.tenant } : {}),
    fields: {
      ...(input.rolloutId ? { rolloutId: input.rolloutId } : {}),
      auditedAt: iso(input.result.at),
      ...(input.result.reason ? { reason: input.result.reason } : {}),
      ...(input.result.screenshots.length > 0 ? { screenshots: [...input.result.screenshots] } : {}),
    },
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
  deps: EventDeps,
  header: Pick<RolloutHeader, 'rolloutId' | 'templateId' | 'userVersion'>,
  account: Pick<RolloutAccount, 'authorizerAppid' | 'tenant'>,
  input: { stage: RolloutStage; change: string | number; auditId?: number; audit?: AuditRecord; error?: StepError; occurredAt: number },
): OutboxEvent =>
  buildEvent(deps, {
    detailType: DetailType.RolloutAccountUpdated,
    identity: [header.rolloutId, account.authorizerAppid, input.stage, input.change],
    occurredAt: input.occurredAt,
    authorizerAppid: account.authorizerAppid,
    ...(account.tenant ? { tenant: account.tenant } : {}),
    fields: {
      rolloutId: header.rolloutId,
      stage: input.stage,
      templateId: header.templateId,
      userVersion: header.userVersion,
      ...(input.auditId !== undefined ? { auditId: input.auditId } : {}),
      ...(input.audit?.reason ? { reason: input.audit.reason } : {}),
      ...(input.error ? { error: errorDetail(input.error) } : {}),
    },
  });

export const rolloutCompletedEvent = (
  deps: EventDeps,
  header: RolloutHeader,
  counts: Readonly<Record<string, number>>,
  occurredAt: number,
): OutboxEvent =>
  buildEvent(deps, {
    detailType: DetailType.RolloutCompleted,
    identity: [header.rolloutId, header.phase],
    occurredAt,
    fields: {
      rolloutId: header.rolloutId,
      phase: header.phase,
      templateId: header.templateId,
      userVersion: header.userVersion,
      release: header.release,
      accounts: Object.values(counts).reduce((a, b) => a + b, 0),
      stages: { ...counts },
    },
  });
