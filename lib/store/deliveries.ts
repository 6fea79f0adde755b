// Deduplication markers for the message URL. WeChat retries a message it got no answer to within 5 s (three
// attempts in all, PROTOCOL.md §1.5). One marker per delivery, across concurrent Lambdas: a short-lived
// "handling" claim while a handler runs, then "done". Retries of a done delivery are no-ops; a claim whose
// handler died (timeout, crash) expires, so a later retry handles the message instead of losing it.
// sk `MSG` keeps the markers out of the stream consumer's filter.
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { nowSeconds } from '../kernel/clock.ts';
import type { AccountMessage } from '../wechat/account-messages.ts';
import { messageKey, sha256 } from './keys.ts';
import { conditionMet } from './conditional.ts';
import type { StoreDeps } from './types.ts';

/** WeChat's retries end within seconds; a day is ample and keeps the table small. */
export const MESSAGE_MARKER_TTL_S = 24 * 60 * 60;

/**
 * The delivery's identity: MsgId for messages, FromUserName + CreateTime (+ Event, so two different events of
 * one user in the same second stay distinct) for events and for messages without a MsgId, per WeChat's advice.
 */
export const messageDedupeId = (authorizerAppid: string, message: AccountMessage): string => {
  const msgId = message.msgType === 'event' ? undefined : message.msgId;
  const parts =
    msgId !== undefined
      ? [authorizerAppid, 'msg', msgId]
      : [authorizerAppid, 'event', message.fromUserName, String(message.createTime), message.msgType === 'event' ? message.event : ''];
  return sha256(parts.join('\n'));
};

/**
 * How long a delivery's "handling" claim keeps WeChat's retries away: the message function's timeout, so a
 * live handler is never taken over, while a handler that crashed or timed out is taken over by a later retry.
 */
export const MESSAGE_HANDLING_MS = 10_000;

export interface MessageMarker {
  readonly id: string;
  readonly authorizerAppid: string;
  readonly msgType: string;
  /** Identifies this attempt, so only its own failure can drop its claim. */
  readonly owner: string;
}

/**
 * 'claimed': this attempt handles the delivery; 'done': it was handled already (a duplicate); 'in_flight':
 * another attempt is handling it right now. An expired claim (its handler died) is taken over: 'claimed'.
 */
export type MessageClaim = 'claimed' | 'done' | 'in_flight';

/** Claims the delivery for handling, for MESSAGE_HANDLING_MS (see MessageClaim). */
export const claimMessage = async (deps: StoreDeps, marker: MessageMarker, handlingMs = MESSAGE_HANDLING_MS): Promise<MessageClaim> => {
  const now = deps.clock();
  const receivedAt = nowSeconds(deps.clock);
  try {
    await deps.doc.send(
      new PutCommand({
        TableName: deps.tableName,
        Item: {
          ...messageKey(marker.id),
          authorizerAppid: marker.authorizerAppid,
          msgType: marker.msgType,
          owner: marker.owner,
          state: 'handling',
          handlingUntil: now + handlingMs,
          receivedAt,
          expiresAt: receivedAt + MESSAGE_MARKER_TTL_S,
          ttl: receivedAt + MESSAGE_MARKER_TTL_S,
        },
        // A marker past expiresAt that TTL has not deleted yet no longer counts (expiry is checked on read).
        ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :nowS OR (#state = :handling AND handlingUntil <= :now)',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':nowS': receivedAt, ':handling': 'handling', ':now': now },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return 'claimed';
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    // A marker without a state predates claims: it stands for a handled delivery.
    return error.Item?.state?.S === 'handling' ? 'in_flight' : 'done';
  }
};

/** Marks the delivery handled: every later retry is a duplicate while the marker lives. */
export const finishMessage = async (deps: StoreDeps, id: string): Promise<void> => {
  const now = nowSeconds(deps.clock);
  await deps.doc.send(
    new UpdateCommand({
      TableName: deps.tableName,
      Key: messageKey(id),
      UpdateExpression:
        'SET #state = :done, doneAt = :now, expiresAt = if_not_exists(expiresAt, :expiresAt), #ttl = if_not_exists(#ttl, :expiresAt) REMOVE handlingUntil',
      ExpressionAttributeNames: { '#state': 'state', '#ttl': 'ttl' },
      ExpressionAttributeValues: { ':done': 'done', ':now': now, ':expiresAt': now + MESSAGE_MARKER_TTL_S },
    }),
  );
};

/** Drops our own claim so WeChat's next retry is handled again (handling failed); never another attempt's. */
export const forgetMessage = async (deps: StoreDeps, id: string, owner: string): Promise<void> => {
  // Someone else's state (or none) fails the condition: nothing of ours to change.
  await conditionMet(() =>
    deps.doc.send(
      new DeleteCommand({
        TableName: deps.tableName,
        Key: messageKey(id),
        ConditionExpression: '#state = :handling AND #owner = :owner',
        ExpressionAttributeNames: { '#state': 'state', '#owner': 'owner' },
        ExpressionAttributeValues: { ':handling': 'handling', ':owner': owner },
      }),
    ),
  );
};
