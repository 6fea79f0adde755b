// Deduplication markers for the message URL. WeChat retries a message it got no answer to within 5 s (three
// attempts in all, docs/protocol.md §1.5). One marker per delivery, across concurrent Lambdas: a short-lived
// "handling" claim while a handler runs, then "done". Retries of a done delivery are no-ops; a claim whose
// handler died (timeout, crash) expires, so a later retry handles the message instead of losing it.
// sk `MSG` keeps the markers out of the stream consumer's filter.
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { nowSeconds } from '../kernel/clock.ts';
import { MESSAGE_HANDLING_MS } from '../kernel/limits.ts';
import type { AccountMessage } from '../wechat/account-messages.ts';
import { messageKey, sha256, type StoreDeps } from './keys.ts';
import { type ClaimKind, dropClaim, takeClaim } from './claims.ts';
import { outboxPuts, type OutboxEvent } from './outbox.ts';

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

export interface MessageMarker {
  readonly id: string;
  readonly authorizerAppid: string;
  readonly msgType: string;
  /** Identifies this attempt, so only its own failure can drop its claim. */
  readonly owner: string;
  /**
   * Written in the same transaction as a successful claim (the `Account Message` event). A claim taken over
   * after a crash, or after a failed handler dropped it, writes the same ids again: no second delivery.
   */
  readonly events?: readonly OutboxEvent[];
}

/**
 * 'claimed': this attempt handles the delivery; 'done': it was handled already (a duplicate); 'in_flight':
 * another attempt is handling it right now. An expired claim (its handler died) is taken over: 'claimed'.
 */
export type MessageClaim = 'claimed' | 'done' | 'in_flight';

const DELIVERY_CLAIM: ClaimKind = { until: 'handlingUntil', state: 'handling' };

/** Claims the delivery for handling, for MESSAGE_HANDLING_MS (see MessageClaim). */
export const claimMessage = async (deps: StoreDeps, marker: MessageMarker, handlingMs = MESSAGE_HANDLING_MS): Promise<MessageClaim> => {
  const receivedAt = nowSeconds(deps.clock);
  const item = { authorizerAppid: marker.authorizerAppid, msgType: marker.msgType, receivedAt, expiresAt: receivedAt + MESSAGE_MARKER_TTL_S };
  const answer = await takeClaim(deps, DELIVERY_CLAIM, {
    key: messageKey(marker.id),
    owner: marker.owner,
    until: deps.clock() + handlingMs,
    item,
    with: outboxPuts(deps, marker.events),
  });
  if (answer.claimed) return 'claimed';
  // A marker without a state predates claims: it stands for a handled delivery.
  return answer.held.state === DELIVERY_CLAIM.state ? 'in_flight' : 'done';
};

/**
 * Marks the delivery handled: every later retry is a duplicate while the marker lives. Whoever handled it may
 * mark it, even after its claim passed to a retry: the delivery was handled, so a failing retry must not undo it.
 */
export const finishMessage = async (deps: StoreDeps, id: string): Promise<void> => {
  const now = nowSeconds(deps.clock);
  await deps.doc.send(
    new UpdateCommand({
      TableName: deps.tableName,
      Key: messageKey(id),
      UpdateExpression: 'SET #state = :done, doneAt = :now, expiresAt = if_not_exists(expiresAt, :expiresAt) REMOVE handlingUntil',
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: { ':done': 'done', ':now': now, ':expiresAt': now + MESSAGE_MARKER_TTL_S },
    }),
  );
};

/** Drops our own claim so WeChat's next retry is handled again (handling failed); never another attempt's. */
export const forgetMessage = async (deps: StoreDeps, id: string, owner: string): Promise<void> => {
  await dropClaim(deps, DELIVERY_CLAIM, messageKey(id), owner);
};
