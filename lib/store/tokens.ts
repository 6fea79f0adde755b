// Access tokens: the component's (COMPONENT#<appid>/ACCESS_TOKEN) and each authorizer's
// (AUTHORIZER#<appid>/ACCESS_TOKEN). Both sit in the sparse gsi1 under DUE#… sorted by expiry, which is how
// the scheduled refresh finds what is due without a Scan. A token is only ever replaced by a newer one, and
// only the token that actually failed is ever expired (docs/protocol.md §4 items 4-5).
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { nowSeconds } from '../kernel/clock.ts';
import { AppError } from '../kernel/errors.ts';
import { protectSecret } from '../kernel/logger.ts';
import { findItem, getItems, conditionMet } from './table.ts';
import { authorizerKey, componentKey, DUE_COMPONENT, dueSortKey, leaseKey, type Key, type StoreDeps } from './keys.ts';
import { toLease, type Lease } from './claims.ts';

export interface AccessToken {
  readonly accessToken: string;
  /** Epoch seconds, as WeChat granted it (obtainedAt + expires_in); margins are applied by the caller. */
  readonly expiresAt: number;
  /** Epoch seconds. */
  readonly obtainedAt: number;
}

export interface ReadOptions {
  /** Strongly consistent read: what a refresh holder and its waiting followers need. */
  readonly consistent?: boolean;
}

/** A newer token was already stored (a conditional write lost its race); re-read to get it. */
export class StaleWriteError extends AppError {
  readonly item: string;
  constructor(item: string, options?: ErrorOptions) {
    super(`${item} was not written: a newer one is stored`, options);
    this.item = item;
  }
}

/** The condition under which a token item may be replaced by one expiring at :candidate. */
export const NEWER_TOKEN_CONDITION = 'attribute_not_exists(pk) OR expiresAt < :candidate';

/** The item for a token, for a plain Put or for a transaction (authorizers.ts). */
export const tokenItem = (key: Key, duePartition: string, token: { accessToken: string; expiresAt: number }, now: number) => {
  protectSecret(token.accessToken);
  return {
    ...key,
    accessToken: token.accessToken,
    expiresAt: token.expiresAt,
    obtainedAt: now,
    gsi1pk: duePartition,
    gsi1sk: dueSortKey(token.expiresAt),
  };
};

/** Reads a token item; an item past expiresAt is absent even if TTL has not deleted it yet. */
const readToken = async (deps: StoreDeps, key: Key, options: ReadOptions = {}): Promise<AccessToken | undefined> => {
  const { Item: item } = await deps.doc.send(new GetCommand({ TableName: deps.tableName, Key: key, ConsistentRead: options.consistent ?? false }));
  return toAccessToken(item, nowSeconds(deps.clock));
};

/** Domain object of a raw token item, or undefined when it is missing, malformed or expired at `now`. */
export const toAccessToken = (item: Record<string, unknown> | undefined, now: number): AccessToken | undefined => {
  if (!item || typeof item.accessToken !== 'string' || typeof item.expiresAt !== 'number') return undefined;
  if (item.expiresAt <= now) return undefined;
  protectSecret(item.accessToken);
  return { accessToken: item.accessToken, expiresAt: item.expiresAt, obtainedAt: Number(item.obtainedAt ?? 0) };
};

const putToken = async (deps: StoreDeps, key: Key, due: string, token: { accessToken: string; expiresAt: number }) => {
  const written = await conditionMet(() =>
    deps.doc.send(
      new PutCommand({
        TableName: deps.tableName,
        Item: tokenItem(key, due, token, nowSeconds(deps.clock)),
        ConditionExpression: NEWER_TOKEN_CONDITION,
        ExpressionAttributeValues: { ':candidate': token.expiresAt },
      }),
    ),
  );
  if (!written) throw new StaleWriteError(`${key.pk}/${key.sk}`);
};

/**
 * Compare-and-expire: marks the token expired only if it is still the one that failed, so a caller holding
 * an old token can never expire the fresh one another caller just stored (WxJava#1300). The item stays in
 * the DUE index with gsi1sk = now, so the next scheduled run refreshes it. Returns whether it expired one.
 */
const expireToken = (deps: StoreDeps, key: Key, failedAccessToken: string): Promise<boolean> => {
  const now = nowSeconds(deps.clock);
  return conditionMet(() =>
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: key,
        UpdateExpression: 'SET expiresAt = :now, gsi1sk = :due, expiredAt = :now',
        ConditionExpression: 'accessToken = :failed AND expiresAt > :now',
        ExpressionAttributeValues: { ':now': now, ':due': dueSortKey(now), ':failed': failedAccessToken },
      }),
    ),
  );
};

/** The component access token, if one is stored and not yet expired. */
export const getComponentToken = (deps: StoreDeps, componentAppId: string, options?: ReadOptions) =>
  readToken(deps, componentKey(componentAppId, 'ACCESS_TOKEN'), options);

/** The component token and the lease guarding its refresh, in one consistent read (what a waiting caller polls). */
export const getComponentTokenWithLease = async (
  deps: StoreDeps,
  componentAppId: string,
  leaseName: string,
): Promise<{ token?: AccessToken; lease?: Lease }> => {
  const tokenKey = componentKey(componentAppId, 'ACCESS_TOKEN');
  const items = await getItems(deps, [tokenKey, leaseKey(leaseName)], { consistent: true });
  const token = toAccessToken(findItem(items, tokenKey), nowSeconds(deps.clock));
  const lease = toLease(leaseName, findItem(items, leaseKey(leaseName)));
  return { ...(token ? { token } : {}), ...(lease ? { lease } : {}) };
};

/**
 * Stores a component access token unless a token expiring later is already stored (StaleWriteError).
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/component_access_token.html
 */
export const putComponentToken = (deps: StoreDeps, componentAppId: string, token: { accessToken: string; expiresAt: number }) =>
  putToken(deps, componentKey(componentAppId, 'ACCESS_TOKEN'), DUE_COMPONENT, token);

/** Expires the component token only if it is still `failedAccessToken` (WeChat answered 40001/40014/42001). */
export const expireComponentToken = (deps: StoreDeps, componentAppId: string, failedAccessToken: string) =>
  expireToken(deps, componentKey(componentAppId, 'ACCESS_TOKEN'), failedAccessToken);

/** An authorizer's access token, if one is stored and not yet expired. */
export const getAuthorizerToken = (deps: StoreDeps, authorizerAppid: string, options?: ReadOptions) =>
  readToken(deps, authorizerKey(authorizerAppid, 'ACCESS_TOKEN'), options);

/** Expires an authorizer token only if it is still `failedAccessToken`. */
export const expireAuthorizerToken = (deps: StoreDeps, authorizerAppid: string, failedAccessToken: string) =>
  expireToken(deps, authorizerKey(authorizerAppid, 'ACCESS_TOKEN'), failedAccessToken);
