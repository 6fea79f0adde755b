// LINK and PREAUTH items (docs/data-model.md): what a signed authorization link served. LINK#<linkId> holds the
// pre_auth_code the link's start page shows while it lives, so reloading the page does not spend WeChat's quota
// on a new one; PREAUTH#<sha256(pre_auth_code)> remembers which link and tenant the code was served for, so the
// `authorized` push (which carries the PreAuthCode) can store the tenant even when the landing page never runs.
import { DeleteCommand, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { nowSeconds } from '../kernel/clock.ts';
import { protectSecret } from '../kernel/logger.ts';
import { cancelledAt, conditionMet } from './table.ts';
import { linkKey, preAuthKey } from './keys.ts';
import type { StoreDeps } from './keys.ts';

/** A cached pre_auth_code is shown again only while it has this long left: time for the owner to scan and confirm. */
export const PRE_AUTH_REUSE_MIN_S = 300;
/** The origin of a pre_auth_code is kept a day past its expiry: the push can reach the stream consumer late. */
const ORIGIN_KEPT_S = 24 * 60 * 60;

export interface ServedPreAuthCode {
  readonly preAuthCode: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
}

export interface PreAuthOrigin {
  readonly linkId: string;
  readonly tenant?: string;
}

/** The pre_auth_code the link is serving, if it still has PRE_AUTH_REUSE_MIN_S to live. */
export const getLinkPreAuthCode = async (deps: StoreDeps, linkId: string): Promise<ServedPreAuthCode | undefined> => {
  const { Item } = await deps.doc.send(new GetCommand({ TableName: deps.tableName, Key: linkKey(linkId), ConsistentRead: true }));
  if (typeof Item?.preAuthCode !== 'string' || typeof Item.expiresAt !== 'number') return undefined;
  protectSecret(Item.preAuthCode);
  if (Item.expiresAt < nowSeconds(deps.clock) + PRE_AUTH_REUSE_MIN_S) return undefined;
  return { preAuthCode: Item.preAuthCode, expiresAt: Item.expiresAt };
};

/**
 * Caches a fresh pre_auth_code for the link and records its origin, in one transaction. Only when the link serves
 * no usable code: if a concurrent request cached one first, that one is returned and this one is never shown.
 */
export const saveLinkPreAuthCode = async (deps: StoreDeps, link: PreAuthOrigin, served: ServedPreAuthCode): Promise<ServedPreAuthCode> => {
  protectSecret(served.preAuthCode);
  const now = nowSeconds(deps.clock);
  try {
    await deps.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: deps.tableName,
              Item: { ...linkKey(link.linkId), preAuthCode: served.preAuthCode, expiresAt: served.expiresAt, servedAt: now },
              ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :usable',
              ExpressionAttributeValues: { ':usable': now + PRE_AUTH_REUSE_MIN_S },
            },
          },
          {
            Put: {
              TableName: deps.tableName,
              Item: {
                ...preAuthKey(served.preAuthCode),
                linkId: link.linkId,
                tenant: link.tenant,
                servedAt: now,
                expiresAt: served.expiresAt + ORIGIN_KEPT_S,
              },
            },
          },
        ],
      }),
    );
    return served;
  } catch (error) {
    if (!cancelledAt(error).includes(0)) throw error;
    return (await getLinkPreAuthCode(deps, link.linkId)) ?? served;
  }
};

/** The link (and tenant) a pre_auth_code was served for; undefined for a code no signed link served. */
export const getPreAuthOrigin = async (deps: StoreDeps, preAuthCode: string): Promise<PreAuthOrigin | undefined> => {
  const { Item } = await deps.doc.send(new GetCommand({ TableName: deps.tableName, Key: preAuthKey(preAuthCode) }));
  if (typeof Item?.linkId !== 'string' || typeof Item.expiresAt !== 'number' || Item.expiresAt <= nowSeconds(deps.clock)) return undefined;
  return { linkId: Item.linkId, ...(typeof Item.tenant === 'string' ? { tenant: Item.tenant } : {}) };
};

/**
 * Stops the link serving a pre_auth_code WeChat has spent (one authorization per code): its next view gets a fresh
 * one. With `preAuthCode`, only if the link still serves that very code. True when something was removed.
 */
export const forgetLinkPreAuthCode = (deps: StoreDeps, linkId: string, preAuthCode?: string): Promise<boolean> =>
  conditionMet(() =>
    deps.doc.send(
      new DeleteCommand({
        TableName: deps.tableName,
        Key: linkKey(linkId),
        ConditionExpression: preAuthCode ? 'preAuthCode = :code' : 'attribute_exists(pk)',
        ...(preAuthCode ? { ExpressionAttributeValues: { ':code': preAuthCode } } : {}),
      }),
    ),
  );
