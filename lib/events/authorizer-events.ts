// The events of an account's authorization lifecycle (docs/events.md), built from the profile a store write
// replaces and the one it writes, so they are always exactly the change that commits. Identities are chosen
// so that a retried write, a replayed push or two roads to the same change (landing page and push, 61003 and
// `unauthorized`) yield the same eventId: consumers see one event per change even where the write repeats.
import type { AuthorizerProfile } from '../store/authorizers.ts';
import type { GrantChange } from '../store/grants.ts';
import type { Announce, OutboxEvent } from '../store/outbox.ts';
import type { RefreshFailure } from '../store/refresh-failures.ts';
import { buildEvent, DetailType } from './catalogue.ts';

type EventDeps = { readonly config: { readonly componentAppId: string }; readonly clock: () => number };

const subject = (p: Pick<AuthorizerProfile, 'authorizerAppid' | 'tenant'>) => ({
  authorizerAppid: p.authorizerAppid,
  ...(p.tenant ? { tenant: p.tenant } : {}),
});

const sameSet = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((id) => b.includes(id));

/**
 * What storing an authorization announces: `Authorizer Authorized` for a first grant (or one after a
 * revocation), `Authorizer Recovered` for an account that was in needs_reauth, `Authorizer Updated` when a
 * newer grant changes the permissions (or the tenant); nothing for the same grant stored again.
 */
export const grantEvents =
  (deps: EventDeps): Announce<GrantChange> =>
  ({ before, after }) => {
    const appid = after.authorizerAppid;
    const occurredAt = after.authorizedAt * 1000;
    const funcInfo = [...after.funcInfo].sort((x, y) => x - y);
    const base = { ...subject(after), occurredAt, identity: [appid, after.authorizedAt] };
    if (!before || before.status === 'unauthorized') {
      return [buildEvent(deps, { ...base, detailType: DetailType.AuthorizerAuthorized, fields: { funcInfo } })];
    }
    if (before.authorizedAt === after.authorizedAt) return [];
    if (before.status === 'needs_reauth') {
      return [buildEvent(deps, { ...base, detailType: DetailType.AuthorizerRecovered, fields: { funcInfo, via: 'reauthorization' } })];
    }
    if (sameSet(before.funcInfo, after.funcInfo) && before.tenant === after.tenant) return [];
    return [permissionsChanged(deps, before, after, base)];
  };

const permissionsChanged = (
  deps: EventDeps,
  before: Pick<AuthorizerProfile, 'funcInfo'>,
  after: Pick<AuthorizerProfile, 'funcInfo' | 'authorizerAppid' | 'tenant'>,
  base: { occurredAt: number; identity: readonly (string | number)[] },
): OutboxEvent => {
  const funcInfo = [...after.funcInfo].sort((x, y) => x - y);
  const previousFuncInfo = [...before.funcInfo].sort((x, y) => x - y);
  return buildEvent(deps, {
    ...base,
    ...subject(after),
    detailType: DetailType.AuthorizerUpdated,
    fields: {
      funcInfo,
      previousFuncInfo,
      added: funcInfo.filter((id) => !previousFuncInfo.includes(id)),
      removed: previousFuncInfo.filter((id) => !funcInfo.includes(id)),
    },
  });
};

/** `Authorizer Updated` when a re-read of the account's info (api_get_authorizer_info) finds other permissions. */
export const permissionsRefetched = (deps: EventDeps, before: AuthorizerProfile, funcInfo: readonly number[]): OutboxEvent[] =>
  sameSet(before.funcInfo, funcInfo)
    ? []
    : [
        permissionsChanged(
          deps,
          before,
          { ...before, funcInfo: [...funcInfo] },
          { occurredAt: deps.clock(), identity: [before.authorizerAppid, 'refetched', before.version] },
        ),
      ];

/**
 * `Authorizer Unauthorized` for the grant `before` stood for. Its identity is that grant, so the `unauthorized`
 * push and a 61003 found by a refresh, two roads to one revocation, are one event.
 */
export const unauthorizedEvents =
  (deps: EventDeps, detectedBy: 'push' | 'refresh', at: number): Announce<AuthorizerProfile> =>
  (before) => [
    buildEvent(deps, {
      ...subject(before),
      detailType: DetailType.AuthorizerUnauthorized,
      identity: [before.authorizerAppid, before.authorizedAt],
      occurredAt: at,
      fields: { detectedBy, authorizedAt: new Date(before.authorizedAt * 1000).toISOString() },
    }),
  ];

/** `Authorizer Needs Reauthorization` for the profile a 61023 recovery chain gave up on. */
export const needsReauthEvents = (deps: EventDeps, profile: AuthorizerProfile, reason: string): OutboxEvent[] => [
  buildEvent(deps, {
    ...subject(profile),
    detailType: DetailType.AuthorizerNeedsReauthorization,
    identity: [profile.authorizerAppid, profile.authorizedAt, profile.version],
    occurredAt: deps.clock(),
    fields: { errcode: 61023, reason },
  }),
];

/** `Token Refresh Failed` for a lasting failure (recorded once per errcode, refresh-failures.ts). */
export const refreshFailedEvents = (deps: EventDeps, profile: AuthorizerProfile, failure: Omit<RefreshFailure, 'at'>): OutboxEvent[] => [
  buildEvent(deps, {
    ...subject(profile),
    detailType: DetailType.TokenRefreshFailed,
    identity: [profile.authorizerAppid, failure.errcode, profile.version],
    occurredAt: deps.clock(),
    fields: { api: failure.api, errcode: failure.errcode, errmsg: failure.errmsg },
  }),
];

export interface FastRegistrationResult {
  /** The id of the recorded push (stable for it). */
  readonly pushId: string;
  /** Epoch seconds: the push's CreateTime. */
  readonly createTime: number;
  /** The new mini program; present when the registration succeeded. */
  readonly authorizerAppid?: string;
  readonly status: number;
  readonly message: string;
  /** The registered name as the push repeats it (`info.name`), if present. */
  readonly name?: string;
}

/** `Fast Registration Completed`: the result of a fast registration of a mini program, success or not. */
export const fastRegistrationEvents = (deps: EventDeps, result: FastRegistrationResult): OutboxEvent[] => [
  buildEvent(deps, {
    ...(result.authorizerAppid ? { authorizerAppid: result.authorizerAppid } : {}),
    detailType: DetailType.FastRegistrationCompleted,
    identity: [result.pushId],
    occurredAt: result.createTime * 1000,
    fields: { succeeded: result.status === 0, status: result.status, message: result.message, ...(result.name ? { name: result.name } : {}) },
  }),
];
