// JS-SDK tickets (AUTHORIZER#<appid>/JSAPI_TICKET): one per official account, in the account's partition
// beside its profile, so one read returns the account's status and its ticket together (a revoked account's
// ticket is never handed out, whatever is still stored). A ticket is only ever replaced by one expiring later.
// `expiresAt` is WeChat's expiry and is checked on every read; `ttl`, a day later, only lets DynamoDB delete
// the item (docs/data-model.md).
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { nowSeconds } from '../kernel/clock.ts';
import { protectSecret } from '../kernel/logger.ts';
import { toProfile, type AuthorizerProfile } from './authorizers.ts';
import { conditionMet, findItem, getItems } from './table.ts';
import { authorizerKey, leaseKey, TOKEN_RETENTION_S } from './keys.ts';
import { toLease, type Lease } from './claims.ts';
import { NEWER_TOKEN_CONDITION, StaleWriteError } from './tokens.ts';
import type { StoreDeps } from './keys.ts';

/** How long after its expiry a ticket item may be deleted by TTL: as long as an access token's. */
export const JSAPI_TICKET_RETENTION_S = TOKEN_RETENTION_S;

export interface JsapiTicket {
  readonly ticket: string;
  /** Epoch seconds, as WeChat granted it (obtainedAt + expires_in); margins are applied by the caller. */
  readonly expiresAt: number;
  /** Epoch seconds. */
  readonly obtainedAt: number;
}

export interface JsapiTicketState {
  readonly profile?: AuthorizerProfile;
  /** Absent when none is stored or it has expired. */
  readonly ticket?: JsapiTicket;
  /** Only when asked for with `leaseName`. */
  readonly lease?: Lease;
}

const toJsapiTicket = (item: Record<string, unknown> | undefined, now: number): JsapiTicket | undefined => {
  if (!item || typeof item.ticket !== 'string' || typeof item.expiresAt !== 'number') return undefined;
  if (item.expiresAt <= now) return undefined;
  protectSecret(item.ticket);
  return { ticket: item.ticket, expiresAt: item.expiresAt, obtainedAt: Number(item.obtainedAt ?? 0) };
};

/**
 * The account's profile and live ticket (and the lease guarding the ticket's refresh, when `leaseName` is
 * given) in one BatchGetItem: a cache hit is one request.
 */
export const getJsapiTicketState = async (
  deps: StoreDeps,
  authorizerAppid: string,
  options: { consistent?: boolean; leaseName?: string } = {},
): Promise<JsapiTicketState> => {
  const profileKey = authorizerKey(authorizerAppid, 'PROFILE');
  const ticketKey = authorizerKey(authorizerAppid, 'JSAPI_TICKET');
  const keys = options.leaseName ? [profileKey, ticketKey, leaseKey(options.leaseName)] : [profileKey, ticketKey];
  const items = await getItems(deps, keys, { consistent: options.consistent ?? true });
  const profile = toProfile(findItem(items, profileKey));
  const ticket = toJsapiTicket(findItem(items, ticketKey), nowSeconds(deps.clock));
  const lease = options.leaseName ? toLease(options.leaseName, findItem(items, leaseKey(options.leaseName))) : undefined;
  return { ...(profile ? { profile } : {}), ...(ticket ? { ticket } : {}), ...(lease ? { lease } : {}) };
};

/**
 * Stores a ticket unless one expiring later is already stored (StaleWriteError).
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/Official_Accounts/js_sdk_instructions.html
 */
export const putJsapiTicket = async (deps: StoreDeps, authorizerAppid: string, t: { ticket: string; expiresAt: number }): Promise<JsapiTicket> => {
  protectSecret(t.ticket);
  const key = authorizerKey(authorizerAppid, 'JSAPI_TICKET');
  const obtainedAt = nowSeconds(deps.clock);
  const written = await conditionMet(() =>
    deps.doc.send(
      new PutCommand({
        TableName: deps.tableName,
        Item: { ...key, ticket: t.ticket, expiresAt: t.expiresAt, obtainedAt, ttl: t.expiresAt + JSAPI_TICKET_RETENTION_S },
        ConditionExpression: NEWER_TOKEN_CONDITION,
        ExpressionAttributeValues: { ':candidate': t.expiresAt },
      }),
    ),
  );
  if (!written) throw new StaleWriteError(`${key.pk}/${key.sk}`);
  return { ticket: t.ticket, expiresAt: t.expiresAt, obtainedAt };
};
