// Authorizer profiles (AUTHORIZER#<appid>/PROFILE): status, the refresh token and the one before it, the
// granted permissions and the account's info. The profile has NO TTL: losing the refresh token means asking
// the account owner to authorize again (PROTOCOL.md §4 item 6). Reads and status changes live here; the
// writes that store refresh tokens are in authorizations.ts.
import { GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { nowSeconds } from '../kernel/clock.ts';
import { AppError } from '../kernel/errors.ts';
import { protectSecret } from '../kernel/logger.ts';
import type { AuthorizerInfo } from '../wechat/responses.ts';
import { findItem, getItems } from './batch.ts';
import { cancelledAt, conditionMet } from './conditional.ts';
import { AUTHORIZER_LIST, authorizerKey, GSI2, leaseKey, sha256 } from './keys.ts';
import { outboxPut, stableEventId } from './outbox.ts';
import { toLease, type Lease } from './lease.ts';
import { toAccessToken, type AccessToken } from './tokens.ts';
import { recordEarlyRevocation } from './revocations.ts';
import type { StoreDeps } from './types.ts';

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

/** Status unauthorized (by `update`) and the access token deleted in one transaction; the profile stays for audit. */
const revoke = async (deps: StoreDeps, appid: string, update: ProfileUpdate): Promise<'unauthorized' | 'stale' | 'not_found'> => {
  try {
    await deps.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          { Update: { TableName: deps.tableName, Key: authorizerKey(appid, 'PROFILE'), ...update } },
          { Delete: { TableName: deps.tableName, Key: authorizerKey(appid, 'ACCESS_TOKEN') } },
        ],
      }),
    );
    return 'unauthorized';
  } catch (error) {
    if (cancelledAt(error).length === 0) throw error;
    return (await getAuthorizer(deps, appid)) ? 'stale' : 'not_found';
  }
};

/**
 * Revokes an account on its `unauthorized` push at `eventTime`. Applied only if eventTime is after the last
 * authorization, so a late or replayed push cannot revoke an account that authorized again.
 */
export const markUnauthorized = async (deps: StoreDeps, appid: string, eventTime: number): Promise<'unauthorized' | 'stale' | 'not_found'> => {
  const apply = () =>
    revoke(deps, appid, {
      UpdateExpression: `SET #status = :unauthorized, unauthorizedAt = :t, updatedAt = :now ${OFF_SCHEDULE} ADD version :one`,
      ConditionExpression: 'attribute_exists(pk) AND authorizedAt < :t',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':unauthorized': 'unauthorized', ':t': eventTime, ':now': nowSeconds(deps.clock), ':one': 1 },
    });
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
export const markRevoked = (deps: StoreDeps, appid: string, seen: Pick<AuthorizerProfile, 'refreshToken' | 'authorizedAt'>) => {
  const now = nowSeconds(deps.clock);
  return revoke(deps, appid, {
    UpdateExpression: `SET #status = :unauthorized, unauthorizedAt = :t, revokedDetectedAt = :now, updatedAt = :now ${OFF_SCHEDULE} ADD version :one`,
    ConditionExpression: 'refreshToken = :rt AND authorizedAt = :t AND #status <> :unauthorized',
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: { ':unauthorized': 'unauthorized', ':rt': seen.refreshToken, ':t': seen.authorizedAt, ':now': now, ':one': 1 },
  });
};

/**
 * Marks an authorized account as needing re-authorization (its refresh token is beyond recovery), and writes the
 * `Authorizer Needs Reauthorization` event in the same transaction (docs/architecture.md §6). With
 * `ifRefreshToken`, only if the profile still holds that token, so a concurrent re-authorization wins.
 */
export const markNeedsReauth = async (
  deps: StoreDeps,
  appid: string,
  reason: string,
  options: { ifRefreshToken?: string } = {},
): Promise<boolean> => {
  const guard = options.ifRefreshToken === undefined ? '' : ' AND refreshToken = :rt';
  const now = deps.clock();
  const update = {
    TableName: deps.tableName,
    Key: authorizerKey(appid, 'PROFILE'),
    UpdateExpression: `SET #status = :needs, needsReauthReason = :reason, updatedAt = :now ${OFF_SCHEDULE} ADD version :one`,
    ConditionExpression: `#status = :authorized${guard}`,
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: {
      ':needs': 'needs_reauth',
      ':authorized': 'authorized',
      ':reason': reason,
      ':now': Math.floor(now / 1000),
      ':one': 1,
      ...(options.ifRefreshToken === undefined ? {} : { ':rt': options.ifRefreshToken }),
    },
  };
  // One event per abandoned refresh token, however often the chain that gave up on it is retried.
  const event = {
    eventId: stableEventId('Authorizer Needs Reauthorization', appid, sha256(options.ifRefreshToken ?? String(now))),
    detailType: 'Authorizer Needs Reauthorization',
    detail: { authorizerAppid: appid, reason },
    occurredAt: now,
  };
  try {
    await deps.doc.send(new TransactWriteCommand({ TransactItems: [{ Update: update }, outboxPut(deps, event)] }));
    return true;
  } catch (error) {
    if (cancelledAt(error).includes(0)) return false;
    throw error;
  }
};

/**
 * Reconcile's mark on an authorized profile WeChat's authorizer list no longer holds (kept, never revoked on
 * this alone: the list may lag, and the `unauthorized` push or a 61003 decides), or its removal once listed again.
 */
export const markUnlisted = (deps: StoreDeps, appid: string, unlisted: boolean): Promise<boolean> =>
  conditionalUpdate(
    deps,
    appid,
    unlisted
      ? {
          UpdateExpression: 'SET unlistedAt = :now',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(unlistedAt)',
          ExpressionAttributeValues: { ':now': nowSeconds(deps.clock) },
        }
      : { UpdateExpression: 'REMOVE unlistedAt', ConditionExpression: 'attribute_exists(unlistedAt)' },
  );

/** Replaces the account's info (api_get_authorizer_info) and, when given, its permissions. False if no profile. */
export const updateAuthorizerInfo = (deps: StoreDeps, appid: string, info: AuthorizerInfo, funcInfo?: number[]): Promise<boolean> =>
  conditionalUpdate(deps, appid, {
    UpdateExpression: `SET info = :info, updatedAt = :now${funcInfo ? ', funcInfo = :funcInfo' : ''} ADD version :one`,
    ConditionExpression: 'attribute_exists(pk)',
    ExpressionAttributeValues: { ':info': info, ':now': nowSeconds(deps.clock), ':one': 1, ...(funcInfo ? { ':funcInfo': funcInfo } : {}) },
  });

const conditionalUpdate = (deps: StoreDeps, appid: string, update: ProfileUpdate): Promise<boolean> =>
  conditionMet(() => deps.doc.send(new UpdateCommand({ TableName: deps.tableName, Key: authorizerKey(appid, 'PROFILE'), ...update })));

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
  /** Epoch seconds: the next scheduled refresh; absent when the account is off the schedule. */
  readonly nextRefreshAt?: number;
  /** Epoch seconds: since when WeChat's authorizer list no longer holds the account (reconcile). */
  readonly unlistedAt?: number;
}

/** A listing cursor that is not one this module returned. */
export class InvalidCursorError extends AppError {}

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
  ...(p.nextRefreshAt === undefined ? {} : { nextRefreshAt: p.nextRefreshAt }),
  ...(p.unlistedAt === undefined ? {} : { unlistedAt: p.unlistedAt }),
});
