// The extension point of the message URL: where a platform builder plugs in what their product does with the
// messages and events of the accounts that authorized it. Register handlers by MsgType, by event name, or for
// everything; the message function verifies, decrypts and deduplicates before any handler runs, so a handler
// sees each delivery once (WeChat's retries of it are answered `success`; a handler that throws makes the
// function answer 500 and forget the delivery, so the next retry runs the handler again). Handlers must
// finish well inside WeChat's 5 s window: slow work belongs on a queue, answers then go via the 客服 API.
//
// Registrations go in lib/intake/registrations.ts, on the registry the message function uses:
//   messageHandlers.register('text', async (message, { authorizerAppid }) =>
//     message.content === 'ping' ? { msgType: 'text', content: 'pong' } : undefined);
//   messageHandlers.register('event:subscribe', async (event, context) => { … });
import type { Logger } from '../kernel/logger.ts';
import type { EventMessage, AccountMessage, AccountMessageType } from '../wechat/account-messages.ts';
import type { ReplyBody } from '../wechat/replies.ts';

export interface MessageContext {
  /** The account the message was sent to (the `{appid}` of the message URL). */
  readonly authorizerAppid: string;
  readonly logger: Logger;
}

/** Return a reply body to answer passively (encrypted by the message function), or nothing to answer `success`. */
export type MessageHandler<M extends AccountMessage = AccountMessage> = (message: M, context: MessageContext) => Promise<ReplyBody | undefined>;

type MessageOfType<T extends AccountMessageType> = Extract<AccountMessage, { msgType: T }>;
/** `text`, `image`, …, `event`, `other`; `event:<Event>` for one event name (as WeChat spells it); `*` for the rest. */
export type HandlerKey = AccountMessageType | `event:${string}` | '*';

export interface MessageHandlerRegistry {
  register<T extends AccountMessageType>(key: T, handler: MessageHandler<MessageOfType<T>>): void;
  register(key: `event:${string}`, handler: MessageHandler<EventMessage>): void;
  register(key: '*', handler: MessageHandler): void;
  /** The most specific handler: `event:<Event>`, then the MsgType, then `*`, then the default. */
  handlerFor(message: AccountMessage): MessageHandler;
  keys(): HandlerKey[];
}

/** Logs ids only: never the content, which is the user's. */
export const defaultMessageHandler: MessageHandler = async (message, { authorizerAppid, logger }) => {
  logger.info('message.unhandled', {
    authorizerAppid,
    msgType: message.msgType === 'other' ? message.rawMsgType : message.msgType,
    event: message.msgType === 'event' ? message.event : undefined,
    msgId: message.msgType === 'event' ? undefined : message.msgId,
    createTime: message.createTime,
  });
};

export const createMessageHandlerRegistry = (fallback: MessageHandler = defaultMessageHandler): MessageHandlerRegistry => {
  const handlers = new Map<HandlerKey, MessageHandler>();
  return {
    register: (key: HandlerKey, handler: MessageHandler<never>) => {
      if (handlers.has(key)) throw new Error(`a message handler for ${key} is already registered`);
      handlers.set(key, handler as MessageHandler);
    },
    handlerFor: (message) =>
      (message.msgType === 'event' ? handlers.get(`event:${message.event}`) : undefined) ??
      handlers.get(message.msgType) ??
      handlers.get('*') ??
      fallback,
    keys: () => [...handlers.keys()],
  };
};
