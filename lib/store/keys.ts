import { createHash } from 'node:crypto';
import type { Deps } from '../runtime/deps.ts';

/** What the store modules need: the table, its client and the clock (for expiry checks on read). */
export type StoreDeps = Pick<Deps, 'doc' | 'tableName' | 'clock'>;

/** Every key of the single table (docs/architecture.md §3). Nothing else in the code spells a `pk` or `sk`. */
export type Key = { readonly pk: string; readonly sk: string };

export const componentKey = (appId: string, kind: 'TICKET' | 'ACCESS_TOKEN'): Key => ({ pk: `COMPONENT#${appId}`, sk: kind });
export const authorizerKey = (appId: string, kind: 'PROFILE' | 'ACCESS_TOKEN' | 'REVOCATION' | 'JSAPI_TICKET'): Key => ({
  pk: `AUTHORIZER#${appId}`,
  sk: kind,
});
export const leaseKey = (what: string): Key => ({ pk: `LEASE#${what}`, sk: 'LEASE' });
export const eventKey = (id: string): Key => ({ pk: `EVENT#${id}`, sk: 'EVENT' });
/** Deduplication marker of a message-URL delivery; sk `MSG`, never `EVENT`, so the stream filter skips it. */
export const messageKey = (id: string): Key => ({ pk: `MSG#${id}`, sk: 'MSG' });
export const codeKey = (authorizationCode: string): Key => ({ pk: `CODE#${sha256(authorizationCode)}`, sk: 'CODE' });
/** The pre_auth_code a signed authorization link is serving (lib/store/links.ts). */
export const linkKey = (linkId: string): Key => ({ pk: `LINK#${linkId}`, sk: 'LINK' });
/** Which link (and tenant) a pre_auth_code was served for, keyed by its hash: the `authorized` push names the code. */
export const preAuthKey = (preAuthCode: string): Key => ({ pk: `PREAUTH#${sha256(preAuthCode)}`, sk: 'PREAUTH' });
/** Failed stream work of one event (lib/store/failures.ts); sk `FAILURE`, never `EVENT`, so the stream filter skips it. */
export const failureItemKey = (eventId: string): Key => ({ pk: `FAILURE#${eventId}`, sk: 'FAILURE' });

/**
 * gsi1 partitions of the schedule: authorized PROFILEs by nextRefreshAt (lib/store/schedule.ts), spread over
 * DUE_SHARDS partitions by a hash of the appid, so that refresh workers read disjoint parts of what is due and no
 * one index partition takes every account's schedule writes. `DUE#authorizer` alone is the partition of the
 * first, unsharded schedule: still read until the last profile written before the sharding has moved out of it.
 */
export const DUE_AUTHORIZER = 'DUE#authorizer';
/** Never change on a live table: a profile's shard is derived from its appid wherever the schedule is written. */
export const DUE_SHARDS = 16;
export const dueShardOf = (appid: string): number => {
  // FNV-1a: stable across processes and versions, cheap, and even enough over appids (wx + 16 hex digits).
  let hash = 0x811c9dc5;
  for (let i = 0; i < appid.length; i += 1) hash = Math.imul(hash ^ appid.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % DUE_SHARDS;
};
export const duePartition = (shard: number): string => `${DUE_AUTHORIZER}#${String(shard).padStart(2, '0')}`;
export const GSI1 = 'gsi1';
/** gsi2 partition listing every authorizer PROFILE by appid (operator view). Profiles never expire. */
export const AUTHORIZER_LIST = 'AUTHORIZERS';
export const GSI2 = 'gsi2';

/** The gsi2 keys that list a profile. */
export const listKeys = (appid: string) => ({ gsi2pk: AUTHORIZER_LIST, gsi2sk: appid });

export const sha256 = (value: string): string => createHash('sha256').update(value, 'utf8').digest('hex');

/** The sort key of gsi1: zero-padded epoch seconds so string order is time order. */
export const dueSortKey = (epochSeconds: number): string => String(epochSeconds).padStart(12, '0');

/**
 * The TTL attribute (`ttl`, epoch s) is only what lets DynamoDB delete an item; it is never read as a domain
 * value. An access token item lives on this long after its own expiresAt, for the post-mortem.
 */
export const TOKEN_RETENTION_S = 24 * 60 * 60;

/** A rollout (docs/fleet.md): its header, and one item per mini program in the same partition. */
export const rolloutKey = (rolloutId: string): Key => ({ pk: `ROLLOUT#${rolloutId}`, sk: 'ROLLOUT' });
export const ROLLOUT_ACCOUNT_PREFIX = 'ACCOUNT#';
export const rolloutAccountKey = (rolloutId: string, appid: string): Key => ({ pk: `ROLLOUT#${rolloutId}`, sk: `${ROLLOUT_ACCOUNT_PREFIX}${appid}` });
/** Which rollout submitted the mini program's current audit: where its audit result pushes are applied. */
export const currentRolloutKey = (appid: string): Key => ({ pk: `AUTHORIZER#${appid}`, sk: 'ROLLOUT' });
/** The component's submit quota as last read from WeChat, counted down by each submission. */
export const submitQuotaKey = (componentAppId: string): Key => ({ pk: `COMPONENT#${componentAppId}`, sk: 'SUBMIT_QUOTA' });
/** gsi1 partition listing the rollouts still planning or running (the sweep's work list). */
export const ACTIVE_ROLLOUTS = 'ROLLOUTS#active';
