// The event catalogue (docs/events.md): what the operator's services can subscribe to on the platform's
// EventBridge bus. Source is always `wechat.component`; DetailTypes may be added, never renamed (a rename
// silently breaks every rule that matches on the old name). Each type has a JSON Schema in docs/events/.
import { type OutboxEvent, stableEventId } from '../store/outbox.ts';

/** EventBridge `Source` of every entry the platform puts on its bus. */
export const EVENT_SOURCE = 'wechat.component';

/** Every DetailType, by name. Import these; never spell a DetailType in a string literal elsewhere. */
export const DetailType = {
  AuthorizerAuthorized: 'Authorizer Authorized',
  AuthorizerUpdated: 'Authorizer Updated',
  AuthorizerUnauthorized: 'Authorizer Unauthorized',
  AuthorizerNeedsReauthorization: 'Authorizer Needs Reauthorization',
  AuthorizerRecovered: 'Authorizer Recovered',
  TokenRefreshFailed: 'Token Refresh Failed',
  FastRegistrationCompleted: 'Fast Registration Completed',
  MiniProgramAuditSucceeded: 'Mini Program Audit Succeeded',
  MiniProgramAuditFailed: 'Mini Program Audit Failed',
  MiniProgramAuditDelayed: 'Mini Program Audit Delayed',
  RolloutAccountUpdated: 'Rollout Account Updated',
  RolloutCompleted: 'Rollout Completed',
  AccountMessage: 'Account Message',
} as const;

export type DetailTypeName = (typeof DetailType)[keyof typeof DetailType];

export const DETAIL_TYPES: readonly DetailTypeName[] = Object.values(DetailType);

/** The file stem of a type's schema and sample in docs/events/: `Authorizer Authorized` → `authorizer-authorized`. */
export const schemaName = (detailType: DetailTypeName): string => detailType.toLowerCase().replaceAll(' ', '-');

/** The fields every Detail carries (docs/events.md "Envelope"). */
export interface EventEnvelope {
  /** Stable across redelivery and retried writes: deduplicate on it. */
  readonly eventId: string;
  readonly componentAppId: string;
  /** ISO 8601, UTC, of the change the event reports. */
  readonly occurredAt: string;
  readonly authorizerAppid?: string;
  /** The tenant of the signed authorization link the account came through, when it had one. */
  readonly tenant?: string;
}

export interface EventInput {
  readonly detailType: DetailTypeName;
  /**
   * What makes this change one change rather than another (the subject and its version or time). The same
   * identity always yields the same eventId, so a retried write or a replayed push cannot announce twice.
   */
  readonly identity: readonly (string | number)[];
  /** Epoch milliseconds of the change. */
  readonly occurredAt: number;
  readonly authorizerAppid?: string;
  readonly tenant?: string;
  /** The type's own fields (docs/events/<type>.schema.json); never a token, ticket, code or secret. */
  readonly fields?: Readonly<Record<string, unknown>>;
}

/**
 * One event, ready for `outboxPut` beside the state change it reports. The Detail is complete here
 * (envelope and fields), so the stored outbox item reads as what the bus will carry.
 */
export const buildEvent = (deps: { readonly config: { readonly componentAppId: string } }, input: EventInput): OutboxEvent => {
  const eventId = stableEventId(input.detailType, ...input.identity);
  const envelope: EventEnvelope = {
    eventId,
    componentAppId: deps.config.componentAppId,
    occurredAt: new Date(input.occurredAt).toISOString(),
    ...(input.authorizerAppid ? { authorizerAppid: input.authorizerAppid } : {}),
    ...(input.tenant ? { tenant: input.tenant } : {}),
  };
  // Envelope first in key order, and its values win: a field can never stand in for eventId or tenant.
  return { eventId, detailType: input.detailType, occurredAt: input.occurredAt, detail: Object.assign({}, envelope, input.fields, envelope) };
};
