// Authorizer profiles (AUTHORIZER#<appid>/PROFILE): status, the refresh token and the one before it, the
// granted permissions and the account's info. The profile has NO TTL: losing the refresh token means asking
// the account owner to authorize again (docs/protocol.md §4 item 6). This file holds the profile reads and the
// status changes (revocation, needs_reauth, info); writing a grant (anything that stores a refresh token) is
// grants.ts.
//
// A revocation that arrives before the account's first grant: stream records of different EVENT items can be
// processed out of order in AWS (one shard each), so `unauthorized` may be consumed while no PROFILE exists
// yet. Its time is kept in a REVOCATION marker (no TTL, like the profile), and grants.ts stores a first grant
// only in a transaction that checks the marker, so an older grant consumed later cannot bring the account back.
import { GetCommand, PutCommand, QueryCommand, TransactWriteCommand, type UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { nowSeconds } from '../kernel/clock.ts';
import { BadRequestError } from '../kernel/errors.ts';
import { protectSecret } from '../kernel/logger.ts';
import type { AuthorizerInfo } from '../wechat/responses.ts';
import { cancelledAt, conditionMet, findItem, getItems } from './table.ts';
import { AUTHORIZER_LIST, authorizerKey, GSI2, leaseKey, type StoreDeps } from './keys.ts';
import { toLease, type Lease } from './claims.ts';
import { toAccessToken, type AccessToken } from './tokens.ts';
import { outboxPuts, updateWithEvents, type Announce, type OutboxEvent } from './outbox.ts';
import type { RefreshFailure } from './refresh-failures.ts';

/** `no_refresh_token`: authorized at WeChat, but api_query_auth returned no refresh token (no API permission granted). */
export type AuthorizerStatus = 'authorized' | 'unauthorized' | 'needs_reauth' | 'no_refresh_token';

export interface AuthorizerProfile {
  readonly authorizerAppid: string;
  readonly status: AuthorizerStatus;
  /** Absent only while status is no_refresh_token. */
  readonly refreshToken?: string;
  /** The refresh token before the current one, kept for the 61023 fallback. */
  readonly previousRefreshToken?: string;
  readonly funcInfo: number[];
  readonly info?: AuthorizerInfo;
  /** The operator's customer the account authorized for, from the signed link it came through (if it named one). */
  readonly tenant?: string;
  /** Epoch seconds: CreateTime of the authorization that produced the refresh token. */
  readonly authorizedAt: number;
  /**
   * Epoch seconds: orders the revocation against authorizations (the `unauthorized` push's CreateTime, or
   * for a 61003 the revoked authorization's own time); an authorization at or before it is stale.
   */
  readonly unauthorizedAt?: number;
  /** Epoch seconds: when a refresh learned of the revocation (61003). */
  readonly revokedDetectedAt?: number;
  readonly needsReauthReason?: string;
  /** The lasting failure the last refresh ended in (refresh-failures.ts); cleared by a good refresh. */
  readonly refreshFailure?: RefreshFailure;
  /** Epoch seconds: when reconcile first found the account missing from WeChat's authorizer list. */
  readonly unlistedAt?: number;
  readonly updatedAt: number;
  /** Epoch seconds: when the scheduled refresh next takes this account; absent when it is off the schedule (not authorized). */
  readonly nextRefreshAt?: number;
  /** Incremented by every write; read-modify-write conditions on it. */
  readonly version: number;
}

export const toProfile = (item: Record<string, unknown> | undefined): AuthorizerProfile | undefined => {
  if (!item || typeof item.authorizerAppid !== 'string') return undefined;
  if (typeof item.refreshToken !== 'string' && item.status !== 'no_refresh_token') return undefined;
  protectSecret(item.refreshToken as string | undefined);
  protectSecret(item.previousRefreshToken as string | undefined);
  const { pk: _pk, sk: _sk, gsi1pk: _g, gsi1sk: _s, gsi2pk: _l, gsi2sk: _n, ...profile } = item;
  return { ...profile, funcInfo: (item.funcInfo as number[] | undefined) ?? [], version: Number(item.version ?? 0) } as AuthorizerProfile;
};

/** The profile, or undefined when the account never authorized this component. */
export const getAuthorizer = async (deps: StoreDeps, authorizerAppid: string): Promise<AuthorizerProfile | undefined> => {
  const { Item } = await deps.doc.send(
    new GetCommand({ TableName: deps.tableName, Key: authorizerKey(authorizerAppid, 'PROFILE'), ConsistentRead: true }),
  );
  return toProfile(Item);
};

/** What the message URL needs to know about an account: no refresh token, no permissions. */
export interface AccountStatus {
  readonly status: AuthorizerStatus;
  /** The account's original id (gh_…, api_get_authorizer_info's user_name), once its info is stored. */
  readonly userName?: string;
  /** The operator's customer the account came through (a signed authorization link), if any. */
  readonly tenant?: string;
}

/**
 * A profile's status and gh_ id, read with a projection (the message function's role may read nothing else of a
 * profile, infra/iam.yml); undefined when the account never authorized this component.
 */
/**
 * What getAccountStatus reads of a profile: each top-level attribute and the path projected. The message role may
 * read exactly these top-level attributes (infra/iam.yml ReadAccountStatus, checked by the template test): a name
 * projected here but not granted there makes every read of the message function fail with AccessDenied.
 */
const ACCOUNT_STATUS_PATHS = { status: '#status', info: 'info.userName', tenant: 'tenant' } as const;
export const ACCOUNT_STATUS_ATTRIBUTES = Object.keys(ACCOUNT_STATUS_PATHS);

export const getAccountStatus = async (deps: StoreDeps, authorizerAppid: string): Promise<AccountStatus | undefined> => {
  const { Item } = await deps.doc.send(
    new GetCommand({
      TableName: deps.tableName,
      Key: authorizerKey(authorizerAppid, 'PROFILE'),
      ProjectionExpression: Object.values(ACCOUNT_STATUS_PATHS).join(', '),
      ExpressionAttributeNames: { '#status': 'status' },
      ConsistentRead: true,
    }),
  );
  if (typeof Item?.status !== 'string') return undefined;
  const userName = (Item.info as { userName?: unknown } | undefined)?.userName;
  const tenant = typeof Item.tenant === 'string' && Item.tenant ? { tenant: Item.tenant } : {};
  return { status: Item.status as AuthorizerStatus, ...(typeof userName === 'string' && userName ? { userName } : {}), ...tenant };
};

/** Profile and live access token of one account in a single Query (both share the partition). */
export const getAuthorizerState = async (
  deps: StoreDeps,
  authorizerAppid: string,
  options: { consistent?: boolean } = {},
): Promise<{ profile?: AuthorizerProfile; token?: AccessToken }> => {
  const { Items = [] } = await deps.doc.send(
    new QueryCommand({
      TableName: deps.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': authorizerKey(authorizerAppid, 'PROFILE').pk },
      ConsistentRead: options.consistent ?? false,
    }),
  );
  const profile = toProfile(Items.find((i) => i.sk === 'PROFILE'));
  const token = toAccessToken(
    Items.find((i) => i.sk === 'ACCESS_TOKEN'),
    nowSeconds(deps.clock),
  );
  return { ...(profile ? { profile } : {}), ...(token ? { token } : {}) };
};

/** Profile, live token and the lease guarding the token's refresh, in one consistent read (what a waiting caller polls). */
export const getAuthorizerStateWithLease = async (
  deps: StoreDeps,
  authorizerAppid: string,
  leaseName: string,
): Promise<{ profile?: AuthorizerProfile; token?: AccessToken; lease?: Lease }> => {
  const keys = [authorizerKey(authorizerAppid, 'PROFILE'), authorizerKey(authorizerAppid, 'ACCESS_TOKEN'), leaseKey(leaseName)] as const;
  const items = await getItems(deps, [...keys], { consistent: true });
  const profile = toProfile(findItem(items, keys[0]));
  const token = toAccessToken(findItem(items, keys[1]), nowSeconds(deps.clock));
  const lease = toLease(leaseName, findItem(items, keys[2]));
  return { ...(profile ? { profile } : {}), ...(token ? { token } : {}), ...(lease ? { lease } : {}) };
};

/** An account that is not authorized has nothing to refresh: its profile leaves the schedule (lib/store/schedule.ts). */
const OFF_SCHEDULE = 'REMOVE gsi1pk, gsi1sk, nextRefreshAt';

type ProfileUpdate = Pick<
  ConstructorParameters<typeof UpdateCommand>[0],
  'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
> & { UpdateExpression: string };

/** Status unauthorized (by `update`), the access token deleted and `events` written in one transaction; the profile stays. */
const revoke = async (deps: StoreDeps, appid: string, events: readonly OutboxEvent[], update: ProfileUpdate): Promise<RevokeResult> => {
  try {
    await deps.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          { Update: { TableName: deps.tableName, Key: authorizerKey(appid, 'PROFILE'), ...update } },
          { Delete: { TableName: deps.tableName, Key: authorizerKey(appid, 'ACCESS_TOKEN') } },
          ...outboxPuts(deps, events),
        ],
      }),
    );
    return 'unauthorized';
  } catch (error) {
    if (cancelledAt(error).length === 0) throw error;
    return (await getAuthorizer(deps, appid)) ? 'stale' : 'not_found';
  }
};

/** Records (or moves later) the revocation time of an account that has no profile yet. */
const recordEarlyRevocation = (deps: StoreDeps, appid: string, eventTime: number): Promise<boolean> =>
  conditionMet(() =>
    deps.doc.send(
      new PutCommand({
        TableName: deps.tableName,
        Item: { ...authorizerKey(appid, 'REVOCATION'), authorizerAppid: appid, unauthorizedAt: eventTime, updatedAt: nowSeconds(deps.clock) },
        ConditionExpression: 'attribute_not_exists(pk) OR unauthorizedAt < :t',
        ExpressionAttributeValues: { ':t': eventTime },
      }),
    ),
  );

type RevokeResult = 'unauthorized' | 'stale' | 'not_found';

/**
 * Revokes an account on its `unauthorized` push at `eventTime`. Applied only if eventTime is after the last
 * authorization, so a late or replayed push cannot revoke an account that authorized again. `announce` gets
 * the profile whose grant this write ends (never one that was unauthorized already).
 */
export const markUnauthorized = async (deps: StoreDeps, appid: string, eventTime: number, announce?: Announce<AuthorizerProfile>) => {
  const revokeOnce = (ends: AuthorizerProfile | undefined) =>
    revoke(deps, appid, ends && announce ? announce(ends) : [], {
      UpdateExpression: `SET #status = :unauthorized, unauthorizedAt = :t, updatedAt = :now ${OFF_SCHEDULE} ADD version :one`,
      // When announcing, only over the very profile the events describe: any write in between moves `version`. A
      // revocation in the same second as the grant it names came after it (WeChat revokes only what was granted).
      ConditionExpression: `attribute_exists(pk) AND authorizedAt <= :t${ends ? ' AND version = :v' : ''}`,
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ...{ ':unauthorized': 'unauthorized', ':t': eventTime, ':now': nowSeconds(deps.clock), ':one': 1 },
        ...(ends ? { ':v': ends.version } : {}),
      },
    });
  const apply = async (): Promise<RevokeResult> => {
    for (let attempt = 1; ; attempt += 1) {
      const before = announce ? await getAuthorizer(deps, appid) : undefined;
      const ends = before && before.status !== 'unauthorized' && before.authorizedAt <= eventTime ? before : undefined;
      const result = await revokeOnce(ends);
      // Cancelled over a profile that moved since the read: read again and decide again.
      if (result !== 'stale' || !ends || attempt >= 3) return result;
    }
  };
  const result = await apply();
  if (result !== 'not_found') return result;
  // No profile yet: the grant may still be on its way (out-of-order stream). Leave a marker its transaction
  // checks, then try once more in case the grant committed between our read and the marker.
  await recordEarlyRevocation(deps, appid, eventTime);
  return apply();
};

/**
 * Revokes an account on WeChat's 61003 for the refresh token of `seen` (the profile the refresh read), only
 * while the profile still holds that authorization, so a re-authorization stored meanwhile wins. WeChat does
 * not say when the owner revoked, only that it was after `seen.authorizedAt`: that is the ordering time
 * (unauthorizedAt), so any later authorization replaces this revocation even when its push is processed
 * after it. The detection time is kept apart (revokedDetectedAt) for the operator.
 */
export const markRevoked = (deps: StoreDeps, appid: string, seen: RevokedGrant, events: readonly OutboxEvent[] = []) => {
  const now = nowSeconds(deps.clock);
  return revoke(deps, appid, events, {
    UpdateExpression: `SET #status = :unauthorized, unauthorizedAt = :t, revokedDetectedAt = :now, updatedAt = :now ${OFF_SCHEDULE} ADD version :one`,
    ConditionExpression: 'refreshToken = :rt AND authorizedAt = :t AND #status <> :unauthorized',
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: { ':unauthorized': 'unauthorized', ':rt': seen.refreshToken, ':t': seen.authorizedAt, ':now': now, ':one': 1 },
  });
};

type RevokedGrant = Pick<AuthorizerProfile, 'refreshToken' | 'authorizedAt'>;

/**
 * Marks an authorized account as needing re-authorization (its refresh token is beyond recovery), with
 * `events` in the same write. With `ifRefreshToken`, only if the profile still holds that token, so a
 * concurrent re-authorization wins.
 */
export const markNeedsReauth = async (
  deps: StoreDeps,
  appid: string,
  reason: string,
  options: { ifRefreshToken?: string; events?: readonly OutboxEvent[] } = {},
): Promise<boolean> => {
  const guard = options.ifRefreshToken === undefined ? '' : ' AND refreshToken = :rt';
  return conditionalUpdate(deps, appid, options.events, {
    UpdateExpression: `SET #status = :needs, needsReauthReason = :reason, updatedAt = :now ${OFF_SCHEDULE} ADD version :one`,
    ConditionExpression: `#status = :authorized${guard}`,
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: {
      ':needs': 'needs_reauth',
      ':authorized': 'authorized',
      ':reason': reason,
      ':now': nowSeconds(deps.clock),
      ':one': 1,
      ...(options.ifRefreshToken === undefined ? {} : { ':rt': options.ifRefreshToken }),
    },
  });
};

/**
 * Reconcile's mark on an authorized profile WeChat's authorizer list no longer holds (kept, never revoked on
 * this alone: the list may lag, and the `unauthorized` push or a 61003 decides), or its removal once listed again.
 */
export const markUnlisted = (deps: StoreDeps, appid: string, unlisted: boolean): Promise<boolean> =>
  conditionalUpdate(
    deps,
    appid,
    undefined,
    unlisted
      ? {
          UpdateExpression: 'SET unlistedAt = :now',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(unlistedAt)',
          ExpressionAttributeValues: { ':now': nowSeconds(deps.clock) },
        }
      : { UpdateExpression: 'REMOVE unlistedAt', ConditionExpression: 'attribute_exists(unlistedAt)' },
  );

/**
 * Replaces the account's info (api_get_authorizer_info) and, when given, its permissions. False if no profile.
 * With `guard`, only over the profile version the caller read, with the events it computed from that version.
 */
export const updateAuthorizerInfo = (deps: StoreDeps, appid: string, info: AuthorizerInfo, funcInfo?: number[], guard?: VersionGuard) =>
  conditionalUpdate(deps, appid, guard?.events, {
    UpdateExpression: `SET info = :info, updatedAt = :now${funcInfo ? ', funcInfo = :funcInfo' : ''} ADD version :one`,
    ConditionExpression: guard ? 'version = :v' : 'attribute_exists(pk)',
    ExpressionAttributeValues: {
      ...{ ':info': info, ':now': nowSeconds(deps.clock), ':one': 1 },
      ...(funcInfo ? { ':funcInfo': funcInfo } : {}),
      ...(guard ? { ':v': guard.version } : {}),
    },
  });

/** Records the operator's customer on the profile (the latest signed authorization names it). False if no profile. */
export const setAuthorizerTenant = (deps: StoreDeps, appid: string, tenant: string): Promise<boolean> =>
  conditionalUpdate(deps, appid, [], {
    UpdateExpression: 'SET tenant = :tenant, updatedAt = :now ADD version :one',
    ConditionExpression: 'attribute_exists(pk)',
    ExpressionAttributeValues: { ':tenant': tenant, ':now': nowSeconds(deps.clock), ':one': 1 },
  });

type VersionGuard = { readonly version: number; readonly events: readonly OutboxEvent[] };

const conditionalUpdate = (deps: StoreDeps, appid: string, events: readonly OutboxEvent[] | undefined, update: ProfileUpdate): Promise<boolean> =>
  updateWithEvents(deps, { TableName: deps.tableName, Key: authorizerKey(appid, 'PROFILE'), ...update }, events);

/** One row of the operator view: no token or refresh token, only when the access token expires. */
export interface AuthorizerSummary {
  readonly authorizerAppid: string;
  readonly status: AuthorizerStatus;
  readonly nickName?: string;
  readonly userName?: string;
  readonly funcInfo: number[];
  readonly authorizedAt: number;
  /** Epoch seconds; absent when no live access token is stored. */
  readonly tokenExpiresAt?: number;
  readonly tenant?: string;
  /** Epoch seconds: the next scheduled refresh; absent when the account is off the schedule. */
  readonly nextRefreshAt?: number;
  /** Epoch seconds: since when WeChat's authorizer list no longer holds the account (reconcile). */
  readonly unlistedAt?: number;
}

/** A listing cursor that is not one this module returned. */
export class InvalidCursorError extends BadRequestError {}

const decodeCursor = (cursor: string): Record<string, string> => {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (error) {
    throw new InvalidCursorError('the cursor is not one a previous page returned', { cause: error });
  }
  const k = key as Record<string, unknown> | null;
  const valid = k !== null && typeof k === 'object' && k.gsi2pk === AUTHORIZER_LIST && ['pk', 'sk', 'gsi2sk'].every((f) => typeof k[f] === 'string');
  if (!valid) throw new InvalidCursorError('the cursor is not one a previous page returned');
  return k as Record<string, string>;
};

/** Largest page: two keys per account fit one BatchGetItem (100 keys). */
export const LIST_PAGE_MAX = 50;

/** A page of authorizers ordered by appid, from the AUTHORIZERS partition of gsi2 (never a Scan). */
export const listAuthorizers = async (
  deps: StoreDeps,
  options: { limit?: number; cursor?: string } = {},
): Promise<{ authorizers: AuthorizerSummary[]; cursor?: string }> => {
  const page = await deps.doc.send(
    new QueryCommand({
      TableName: deps.tableName,
      IndexName: GSI2,
      KeyConditionExpression: 'gsi2pk = :list',
      ExpressionAttributeValues: { ':list': AUTHORIZER_LIST },
      Limit: Math.min(options.limit ?? LIST_PAGE_MAX, LIST_PAGE_MAX),
      ...(options.cursor ? { ExclusiveStartKey: decodeCursor(options.cursor) } : {}),
    }),
  );
  const appids = (page.Items ?? []).map((k) => String(k.gsi2sk));
  const items = await getItems(
    deps,
    appids.flatMap((a) => [authorizerKey(a, 'PROFILE'), authorizerKey(a, 'ACCESS_TOKEN')]),
  );
  const now = nowSeconds(deps.clock);
  const authorizers = appids.flatMap((appid) => {
    const profile = toProfile(findItem(items, authorizerKey(appid, 'PROFILE')));
    if (!profile) return [];
    const token = toAccessToken(findItem(items, authorizerKey(appid, 'ACCESS_TOKEN')), now);
    return [summaryOf(profile, token)];
  });
  const next = page.LastEvaluatedKey ? Buffer.from(JSON.stringify(page.LastEvaluatedKey)).toString('base64url') : undefined;
  return { authorizers, ...(next ? { cursor: next } : {}) };
};

const summaryOf = (p: AuthorizerProfile, token: AccessToken | undefined): AuthorizerSummary => ({
  authorizerAppid: p.authorizerAppid,
  status: p.status,
  ...(p.info ? { nickName: p.info.nickName, userName: p.info.userName } : {}),
  funcInfo: p.funcInfo,
  authorizedAt: p.authorizedAt,
  ...(token ? { tokenExpiresAt: token.expiresAt } : {}),
  ...(p.tenant ? { tenant: p.tenant } : {}),
  ...(p.nextRefreshAt === undefined ? {} : { nextRefreshAt: p.nextRefreshAt }),
  ...(p.unlistedAt === undefined ? {} : { unlistedAt: p.unlistedAt }),
});
