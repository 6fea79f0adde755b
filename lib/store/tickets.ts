// The component_verify_ticket WeChat pushes every 10 minutes (docs/protocol.md §1.4, §1.6): one item per
// component appid, replaced only by a push with a newer CreateTime, so a late or reordered push can never
// put an older ticket back.
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { nowSeconds } from '../kernel/clock.ts';
import { protectSecret } from '../kernel/logger.ts';
import { componentKey, type StoreDeps } from './keys.ts';
import { conditionMet } from './table.ts';

/** A ticket is valid for 12 hours after WeChat created it. */
export const TICKET_TTL_S = 12 * 60 * 60;

export interface VerifyTicket {
  readonly componentAppId: string;
  readonly ticket: string;
  /** WeChat's CreateTime, epoch seconds. */
  readonly createTime: number;
  /** createTime + 12 h, epoch seconds. */
  readonly expiresAt: number;
}

/**
 * Stores the ticket unless one with the same or a newer CreateTime is already stored.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/component_verify_ticket.html
 */
export const saveVerifyTicket = async (
  deps: StoreDeps,
  t: { componentAppId: string; ticket: string; createTime: number },
): Promise<'saved' | 'stale'> => {
  protectSecret(t.ticket);
  const saved = await conditionMet(() =>
    deps.doc.send(
      new PutCommand({
        TableName: deps.tableName,
        Item: {
          ...componentKey(t.componentAppId, 'TICKET'),
          componentAppId: t.componentAppId,
          ticket: t.ticket,
          createTime: t.createTime,
          savedAt: nowSeconds(deps.clock),
          expiresAt: t.createTime + TICKET_TTL_S,
        },
        ConditionExpression: 'attribute_not_exists(pk) OR createTime < :createTime',
        ExpressionAttributeValues: { ':createTime': t.createTime },
      }),
    ),
  );
  return saved ? 'saved' : 'stale';
};

/** The stored ticket, or undefined when there is none or it has expired (TTL deletes lazily). */
export const getVerifyTicket = async (deps: StoreDeps, componentAppId: string): Promise<VerifyTicket | undefined> => {
  const { Item: item } = await deps.doc.send(
    new GetCommand({ TableName: deps.tableName, Key: componentKey(componentAppId, 'TICKET'), ConsistentRead: true }),
  );
  if (!item || typeof item.ticket !== 'string' || typeof item.expiresAt !== 'number') return undefined;
  if (item.expiresAt <= nowSeconds(deps.clock)) return undefined;
  protectSecret(item.ticket);
  return { componentAppId, ticket: item.ticket, createTime: Number(item.createTime), expiresAt: item.expiresAt };
};
