// Writing a grant: every write that stores a refresh token. An authorization (api_query_auth), with or without
// an access token, and a refresh (api_authorizer_token). Each stores the refresh token in the same transaction
// as the access token and keeps the previous one, and a write based on an older view of the profile never wins
// (docs/protocol.md §4 item 6). Reading the profile and changing its status (revocation, needs_reauth) is
// authorizers.ts; a first grant checks the REVOCATION marker a revocation consumed before it left there.
import { DeleteCommand, PutCommand, TransactWriteCommand, UpdateCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { nowSeconds } from '../kernel/clock.ts';
import { protectSecret } from '../kernel/logger.ts';
import type { AuthorizerInfo } from '../wechat/responses.ts';
import { getAuthorizer, toProfile, type AuthorizerProfile } from './authorizers.ts';
import { cancelledAt, conditionMet } from './table.ts';
import { authorizerKey, listKeys, type StoreDeps } from './keys.ts';
import { getAuthorizerToken, NEWER_TOKEN_CONDITION, StaleWriteError, tokenItem } from './tokens.ts';
import { outboxPuts, updateWithEvents, type Announce, type OutboxEvent } from './outbox.ts';
import { nextRefreshFor, scheduleAttributes } from './schedule.ts';

export interface NewAuthorization {
  readonly accessToken?: string;
  readonly expiresAt?: number;
  readonly refreshToken: string;
  readonly funcInfo: number[];
  readonly info?: AuthorizerInfo;
  readonly authorizedAt: number;
  /** The operator's customer, when the authorization came through a signed link naming one. */
  readonly tenant?: string;
}

export interface RefreshedToken {
  readonly accessToken: string;
  readonly expiresAt: number;
  /** The refresh token to keep from now on: the one WeChat returned, else the one that worked. */
  readonly refreshToken: string;
  /** The profile's refreshToken as read before calling WeChat; the write applies only if it is still that. */
  readonly replaces: string;
}

/** An authorization about to be stored: the profile it replaces (none for a first grant) and the one it writes. */
export interface GrantChange {
  readonly before?: AuthorizerProfile;
  readonly after: AuthorizerProfile;
}

const PROFILE_MAX_ATTEMPTS = 3;

/**
 * The transaction item that lets a first grant through only if no later revocation was recorded before it
 * (authorizers.ts recordEarlyRevocation: stream records of different EVENT items can be processed out of order).
 */
const noLaterRevocation = (deps: StoreDeps, appid: string, authorizedAt: number) => ({
  ConditionCheck: {
    TableName: deps.tableName,
    Key: authorizerKey(appid, 'REVOCATION'),
    ConditionExpression: 'attribute_not_exists(pk) OR unauthorizedAt < :authorizedAt',
    ExpressionAttributeValues: { ':authorizedAt': authorizedAt },
  },
});

/** Whether `incoming` (an authorization's CreateTime) is older than what the profile already reflects. */
const isOlderThan = (current: AuthorizerProfile, authorizedAt: number): boolean =>
  current.authorizedAt > authorizedAt || (current.unauthorizedAt ?? 0) >= authorizedAt;

/**
 * What every grant writes on the profile, whatever it brought: the grant itself (permissions, info, tenant, time),
 * the failures it clears, the version and the listing keys. The two kinds of grant add their status, refresh
 * tokens and schedule.
 */
const grantHead = (
  appid: string,
  a: Pick<NewAuthorization, 'funcInfo' | 'info' | 'authorizedAt' | 'tenant'>,
  current: AuthorizerProfile | undefined,
  now: number,
) => ({
  ...authorizerKey(appid, 'PROFILE'),
  ...(current ?? {}),
  authorizerAppid: appid,
  funcInfo: a.funcInfo,
  info: a.info ?? current?.info,
  tenant: a.tenant ?? current?.tenant,
  authorizedAt: a.authorizedAt,
  needsReauthReason: undefined,
  refreshFailure: undefined,
  updatedAt: now,
  version: (current?.version ?? 0) + 1,
  ...listKeys(appid),
});

/**
 * The profile of an authorization: scheduled for a refresh ahead of the token it came with, or at once when it
 * came without one (the first use, or the next scheduled run, fetches it).
 */
const profileItem = (appid: string, a: NewAuthorization, current: AuthorizerProfile | undefined, now: number) => {
  const previous = current && current.refreshToken !== a.refreshToken ? current.refreshToken : current?.previousRefreshToken;
  const nextRefreshAt = a.expiresAt === undefined ? now : Math.max(now, nextRefreshFor(a.expiresAt));
  return {
    ...grantHead(appid, a, current, now),
    status: 'authorized',
    refreshToken: a.refreshToken,
    previousRefreshToken: previous,
    ...scheduleAttributes(appid, nextRefreshAt),
  };
};

/** A grant's profile put, guarded by the version it read (or, for a first grant, by there being no profile). */
const grantPut = (deps: StoreDeps, item: Record<string, unknown>, current: AuthorizerProfile | undefined) => ({
  Put: {
    TableName: deps.tableName,
    Item: item,
    ConditionExpression: current ? 'version = :v' : 'attribute_not_exists(pk)',
    ...(current ? { ExpressionAttributeValues: { ':v': current.version } } : {}),
  },
});

/**
 * One attempt at a grant's transaction: `writes` (the profile put first), the events, and for a first grant the
 * revocation guard, last: its index is how a cancelled first grant is recognised as stale. Otherwise a cancelled
 * attempt answers the indexes that failed, for the caller's next attempt.
 */
const tryGrant = async (
  deps: StoreDeps,
  appid: string,
  authorizedAt: number,
  current: AuthorizerProfile | undefined,
  writes: readonly object[],
  events: readonly OutboxEvent[] | undefined,
): Promise<'saved' | 'stale' | number[]> => {
  const guard = current ? [] : [noLaterRevocation(deps, appid, authorizedAt)];
  const items = [...writes, ...outboxPuts(deps, events), ...guard];
  try {
    await deps.doc.send(new TransactWriteCommand({ TransactItems: items as TransactWriteCommandInput['TransactItems'] }));
    return 'saved';
  } catch (error) {
    const failed = cancelledAt(error);
    if (failed.length === 0) throw error;
    if (!current && failed.includes(items.length - 1)) return 'stale';
    return failed;
  }
};

/**
 * Stores an authorization (api_query_auth result): profile, access token and the events `announce` returns
 * for the change, in one transaction. An older authorization (or one older than the last `unauthorized`)
 * never overwrites a newer one: 'stale'.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/authorization_info.html
 */
export const saveAuthorization = async (
  deps: StoreDeps,
  appid: string,
  a: NewAuthorization,
  announce?: Announce<GrantChange>,
): Promise<'saved' | 'stale'> => {
  protectSecret(a.refreshToken);
  let withToken = a.accessToken !== undefined && a.expiresAt !== undefined;
  for (let attempt = 1; attempt <= PROFILE_MAX_ATTEMPTS; attempt += 1) {
    const current = await getAuthorizer(deps, appid);
    if (current && isOlderThan(current, a.authorizedAt)) return 'stale';
    const now = nowSeconds(deps.clock);
    const item = profileItem(appid, a, current, now);
    // A token obtained after this authorization (a refresh that already ran) is newer: keep it; one obtained
    // up to the authorization itself belongs to the old grant and gives way.
    const token = {
      Put: {
        TableName: deps.tableName,
        Item: tokenItem(authorizerKey(appid, 'ACCESS_TOKEN'), { accessToken: a.accessToken ?? '', expiresAt: a.expiresAt ?? 0 }, now),
        ConditionExpression: `${NEWER_TOKEN_CONDITION} OR obtainedAt <= :authorizedAt`,
        ExpressionAttributeValues: { ':candidate': a.expiresAt, ':authorizedAt': a.authorizedAt },
      },
    };
    // A first grant must also beat a revocation consumed before it (noLaterRevocation, in tryGrant).
    const events = announce?.({ ...(current ? { before: current } : {}), after: toProfile(item) as AuthorizerProfile });
    const result = await tryGrant(deps, appid, a.authorizedAt, current, [grantPut(deps, item, current), ...(withToken ? [token] : [])], events);
    if (typeof result === 'string') return result;
    // Only the token's condition failed: a newer token is stored; the next attempt keeps it.
    if (result.includes(1) && !result.includes(0) && withToken) withToken = false;
  }
  throw new StaleWriteError(`AUTHORIZER#${appid}/PROFILE`);
};

/** The schedule part of a refresh's profile update: the account is next due ahead of the new token's expiry. */
const SCHEDULE_SET = 'nextRefreshAt = :next, gsi1pk = :duePk, gsi1sk = :dueSk';
const scheduleValues = (appid: string, t: RefreshedToken) => {
  const s = scheduleAttributes(appid, nextRefreshFor(t.expiresAt));
  return { ':next': s.nextRefreshAt, ':duePk': s.gsi1pk, ':dueSk': s.gsi1sk };
};

/**
 * Stores an authorization that came without a refresh token (the owner granted no API access): status
 * no_refresh_token, listed but off the schedule, and the old grant's access token deleted in the same
 * transaction. A refresh token the profile held is kept as the previous one: a refresh token is never dropped.
 * 'stale' when a newer authorization or revocation is stored.
 */
export const saveAuthorizationWithoutRefreshToken = async (
  deps: StoreDeps,
  appid: string,
  a: Pick<NewAuthorization, 'funcInfo' | 'info' | 'authorizedAt' | 'tenant'>,
  announce?: Announce<GrantChange>,
): Promise<'saved' | 'stale'> => {
  for (let attempt = 1; attempt <= PROFILE_MAX_ATTEMPTS; attempt += 1) {
    const current = await getAuthorizer(deps, appid);
    if (current && isOlderThan(current, a.authorizedAt)) return 'stale';
    const now = nowSeconds(deps.clock);
    const item = {
      ...grantHead(appid, a, current, now),
      status: 'no_refresh_token',
      refreshToken: undefined,
      previousRefreshToken: current?.refreshToken ?? current?.previousRefreshToken,
      nextRefreshAt: undefined,
    };
    const writes = [grantPut(deps, item, current), { Delete: { TableName: deps.tableName, Key: authorizerKey(appid, 'ACCESS_TOKEN') } }];
    const events = announce?.({ ...(current ? { before: current } : {}), after: toProfile(item) as AuthorizerProfile });
    const result = await tryGrant(deps, appid, a.authorizedAt, current, writes, events);
    if (typeof result === 'string') return result;
  }
  throw new StaleWriteError(`AUTHORIZER#${appid}/PROFILE`);
};

/**
 * Reconcile: takes the refresh token WeChat's authorizer list holds for an account whose own one is stale
 * (`replaces`, kept as the previous one), makes it authorized and due now (the next run refreshes with it), with
 * `events` (`Authorizer Recovered` when it brings back an account from needs_reauth) in the same transaction. False
 * when the profile no longer holds `replaces` or the account revoked.
 */
export const adoptListedRefreshToken = async (
  deps: StoreDeps,
  appid: string,
  t: { refreshToken: string; replaces: string },
  events: readonly OutboxEvent[] = [],
): Promise<boolean> => {
  protectSecret(t.refreshToken);
  const now = nowSeconds(deps.clock);
  const due = scheduleAttributes(appid, now);
  const update = {
    TableName: deps.tableName,
    Key: authorizerKey(appid, 'PROFILE'),
    UpdateExpression:
      'SET refreshToken = :rt, previousRefreshToken = :replaces, #status = :authorized, updatedAt = :now, ' +
      'nextRefreshAt = :next, gsi1pk = :duePk, gsi1sk = :dueSk REMOVE needsReauthReason ADD version :one',
    ConditionExpression: 'refreshToken = :replaces AND #status <> :unauthorized',
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: {
      ':rt': t.refreshToken,
      ':replaces': t.replaces,
      ':authorized': 'authorized',
      ':unauthorized': 'unauthorized',
      ':now': now,
      ':one': 1,
      ':next': due.nextRefreshAt,
      ':duePk': due.gsi1pk,
      ':dueSk': due.gsi1sk,
    },
  };
  return updateWithEvents(deps, update, events);
};

const refreshedProfileUpdate = (deps: StoreDeps, appid: string, t: RefreshedToken, now: number) => ({
  TableName: deps.tableName,
  Key: authorizerKey(appid, 'PROFILE'),
  UpdateExpression: `SET refreshToken = :rt, updatedAt = :now, ${SCHEDULE_SET}${t.refreshToken !== t.replaces ? ', previousRefreshToken = :replaces' : ''} REMOVE refreshFailure ADD version :one`,
  ConditionExpression: '#status = :authorized AND refreshToken = :replaces',
  ExpressionAttributeNames: { '#status': 'status' },
  ExpressionAttributeValues: {
    ':rt': t.refreshToken,
    ':now': now,
    ':replaces': t.replaces,
    ':one': 1,
    ':authorized': 'authorized',
    ...scheduleValues(appid, t),
  },
});

/**
 * The rotated refresh token on its own, guarded only by the profile still holding `replaces`: it is the one
 * WeChat now honours, so it also brings back an account a concurrent 61023 chain marked needs_reauth on
 * `replaces`. An unauthorized account stays as it is (its next authorization brings a new refresh token).
 */
const rotatedProfileUpdate = (deps: StoreDeps, appid: string, t: RefreshedToken, now: number) => ({
  TableName: deps.tableName,
  Key: authorizerKey(appid, 'PROFILE'),
  UpdateExpression: `SET refreshToken = :rt, previousRefreshToken = :replaces, #status = :authorized, updatedAt = :now, ${SCHEDULE_SET} REMOVE needsReauthReason, refreshFailure ADD version :one`,
  ConditionExpression: 'refreshToken = :replaces AND #status <> :unauthorized',
  ExpressionAttributeNames: { '#status': 'status' },
  ExpressionAttributeValues: {
    ':rt': t.refreshToken,
    ':now': now,
    ':replaces': t.replaces,
    ':one': 1,
    ':authorized': 'authorized',
    ':unauthorized': 'unauthorized',
    ...scheduleValues(appid, t),
  },
});

const refreshedTokenPut = (deps: StoreDeps, appid: string, t: RefreshedToken, now: number) => ({
  TableName: deps.tableName,
  Item: tokenItem(authorizerKey(appid, 'ACCESS_TOKEN'), t, now),
  ConditionExpression: NEWER_TOKEN_CONDITION,
  ExpressionAttributeValues: { ':candidate': t.expiresAt },
});

/**
 * After the transaction failed for any reason (a condition, a TransactionConflict, throttling, the network),
 * a rotated refresh token must not be lost: WeChat may already have retired `replaces`. Saves it on its own,
 * then the access token; rethrows `error` when a write fails for a reason other than its condition.
 */
const keepRotated = async (deps: StoreDeps, appid: string, t: RefreshedToken, now: number, error: unknown): Promise<void> => {
  const stale = new StaleWriteError(`AUTHORIZER#${appid}`, { cause: error });
  const kept = await conditionMet(() => deps.doc.send(new UpdateCommand(rotatedProfileUpdate(deps, appid, t, now)))).catch(() => {
    throw error;
  });
  if (!kept) throw stale;
  const stored = await conditionMet(() => deps.doc.send(new PutCommand(refreshedTokenPut(deps, appid, t, now)))).catch(() => {
    throw error;
  });
  if (!stored) throw stale;
};

/**
 * Stores a refreshed access token and the refresh token to keep, in one transaction, only if the profile
 * still holds `replaces` and the account is authorized; the replaced refresh token becomes the previous one.
 * Throws StaleWriteError when the profile moved on (re-authorization) or a newer token is stored. A rotated
 * refresh token is saved even when the transaction fails (keepRotated).
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/api_authorizer_token.html
 */
export const saveRefreshedToken = async (deps: StoreDeps, appid: string, t: RefreshedToken): Promise<void> => {
  protectSecret(t.refreshToken);
  const now = nowSeconds(deps.clock);
  const profile = refreshedProfileUpdate(deps, appid, t, now);
  try {
    await deps.doc.send(new TransactWriteCommand({ TransactItems: [{ Update: profile }, { Put: refreshedTokenPut(deps, appid, t, now) }] }));
  } catch (error) {
    if (t.refreshToken !== t.replaces) return keepRotated(deps, appid, t, now, error);
    if (cancelledAt(error).length === 0) throw error;
    throw new StaleWriteError(`AUTHORIZER#${appid}`, { cause: error });
  }
};

// An authorization that brings no access token (api_query_auth answered without one, or the authorization was
// recovered from api_get_authorizer_info): the old grant's access token is no longer valid and must go, but a
// token another caller obtained since, with the NEW refresh token, must stay (deleting it costs a WeChat call).

/**
 * Deletes the account's access token only if it belongs to the old grant: it is the token seen before the new
 * authorization was stored, or it was obtained before that second. Returns whether a token was deleted.
 */
const deleteOldGrantToken = async (deps: StoreDeps, appid: string, old: { accessToken?: string; before: number }): Promise<boolean> => {
  const older = 'attribute_not_exists(obtainedAt) OR obtainedAt < :before';
  return conditionMet(() =>
    deps.doc.send(
      new DeleteCommand({
        TableName: deps.tableName,
        Key: authorizerKey(appid, 'ACCESS_TOKEN'),
        ConditionExpression: old.accessToken ? `accessToken = :seen OR ${older}` : `attribute_exists(pk) AND (${older})`,
        ExpressionAttributeValues: { ':before': old.before, ...(old.accessToken ? { ':seen': old.accessToken } : {}) },
      }),
    ),
  );
};

/**
 * Stores an authorization without an access token (saveAuthorization) and, if it was stored, drops the old
 * grant's token, never one obtained since with the new refresh token.
 */
export const saveAuthorizationWithoutToken = async (
  deps: StoreDeps,
  appid: string,
  a: Omit<NewAuthorization, 'accessToken' | 'expiresAt'>,
  announce?: Announce<GrantChange>,
) => {
  const seen = await getAuthorizerToken(deps, appid, { consistent: true });
  const before = nowSeconds(deps.clock);
  const saved = await saveAuthorization(deps, appid, a, announce);
  if (saved === 'saved') await deleteOldGrantToken(deps, appid, { before, ...(seen ? { accessToken: seen.accessToken } : {}) });
  return saved;
};
