// `Account Message` (docs/events.md): the messages and events users send to the accounts, put on the bus for
// the operator's services to handle asynchronously, outside WeChat's 5 s window. Opt-in per MsgType or Event
// (ACCOUNT_MESSAGE_EVENTS); the in-process hook (lib/intake/message-handlers.ts) still answers synchronously.
import type { AccountMessage } from '../wechat/account-messages.ts';
import type { OutboxEvent } from '../store/outbox.ts';
import { buildEvent, DetailType } from './catalogue.ts';

/** The MsgType a message is selected by: WeChat's own spelling, also for types this project does not model. */
const msgTypeOf = (message: AccountMessage): string => (message.msgType === 'other' ? message.rawMsgType : message.msgType);

/**
 * Whether `selected` (config.accountMessageEvents) asks for this message: `*` everything, a MsgType
 * (`text`, `image`, …, `event` for every event), or `event:<Event>` as WeChat spells the event.
 */
export const isAnnounced = (selected: readonly string[], message: AccountMessage): boolean =>
  selected.includes('*') || selected.includes(msgTypeOf(message)) || (message.msgType === 'event' && selected.includes(`event:${message.event}`));

// Envelope fields lifted out of the XML, and what must never leave: the still-encrypted body, and QR-code or
// other tickets and tokens some events carry (never a credential of ours, but the catalogue promises none).
const LIFTED = new Set(['ToUserName', 'FromUserName', 'CreateTime', 'MsgType', 'MsgId', 'Event']);
const WITHHELD = /^encrypt$|ticket|token|secret|password|authcode/i;

/** The message's own fields as WeChat named them (Content, PicUrl, EventKey, Latitude, …). */
const messageFields = (message: AccountMessage): Record<string, string> =>
  Object.fromEntries(Object.entries(message.fields).filter(([name]) => !LIFTED.has(name) && !WITHHELD.test(name)));

/** The event for one delivery; `dedupeId` is the delivery's identity (lib/store/deliveries.ts), so retries share it. */
export const accountMessageEvent = (
  deps: { readonly config: { readonly componentAppId: string } },
  authorizerAppid: string,
  tenant: string | undefined,
  message: AccountMessage,
  dedupeId: string,
): OutboxEvent => {
  const msgId = message.msgType === 'event' ? undefined : message.msgId;
  return buildEvent(deps, {
    authorizerAppid,
    ...(tenant ? { tenant } : {}),
    detailType: DetailType.AccountMessage,
    identity: [dedupeId],
    occurredAt: message.createTime * 1000,
    fields: {
      msgType: msgTypeOf(message),
      ...(message.msgType === 'event' ? { event: message.event } : {}),
      ...(msgId ? { msgId } : {}),
      toUserName: message.toUserName,
      fromUserName: message.fromUserName,
      createTime: message.createTime,
      fields: messageFields(message),
    },
  });
};
