// Deduplication markers for the message URL. WeChat retries a message it got no answer to within 5 s (three
// attempts in all, PROTOCOL.md §1.5); a conditional put of one marker per delivery makes the second and third
// attempts no-ops, across concurrent Lambdas. sk `MSG` keeps the markers out of the stream consumer's filter.
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { nowSeconds } from '../clock.ts';
import type { MpMessage } from '../wechat/mp-messages.ts';
import { messageKey, sha256 } from './keys.ts';
import type { StoreDeps } from './types.ts';

/** WeChat's retries end within seconds; a day is ample and keeps the table small. */
export const MESSAGE_MARKER_TTL_S = 24 * 60 * 60;

/**
 * The delivery's identity: MsgId for messages, FromUserName + CreateTime (+ Event, so two different events of
 * one user in the same second stay distinct) for events and for messages without a MsgId, per WeChat's advice.
 */
export const messageDedupeId = (authorizerAppid: string, message: MpMessage): string => {
  const msgId = message.msgType === 'event' ? undefined : message.msgId;
  const parts =
    msgId !== undefined
      ? [authorizerAppid, 'msg', msgId]
      : [authorizerAppid, 'event', message.fromUserName, String(message.createTime), message.msgType === 'event' ? message.event : ''];
  return sha256(parts.join('\n'));
};

/** Writes the marker once: 'first' for the first delivery, 'duplicate' for every retry while it lives. */
export const markMessageSeen = async (
  deps: StoreDeps,
  marker: { id: string; authorizerAppid: string; msgType: string },
): Promise<'first' | 'duplicate'> => {
  const receivedAt = nowSeconds(deps.clock);
  try {
    await deps.doc.send(
      new PutCommand({
        TableName: deps.tableName,
        Item: {
          ...messageKey(marker.id),
          authorizerAppid: marker.authorizerAppid,
          msgType: marker.msgType,
          receivedAt,
          expiresAt: receivedAt + MESSAGE_MARKER_TTL_S,
        },
        // A marker past expiresAt that TTL has not deleted yet no longer counts (expiry is checked on read).
        ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :now',
        ExpressionAttributeValues: { ':now': receivedAt },
      }),
    );
    return 'first';
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return 'duplicate';
    throw error;
  }
};

/** Removes a marker so WeChat's next retry is handled again (used when handling failed). */
export const forgetMessage = async (deps: StoreDeps, id: string): Promise<void> => {
  await deps.doc.send(new DeleteCommand({ TableName: deps.tableName, Key: messageKey(id) }));
};
