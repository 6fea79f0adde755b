// The platform builder's file: register here what the product does with the messages and events of the
// accounts that authorized the component (the API and its rules are in message-handlers.ts). The `message`
// function imports this module once per container, before the first delivery. Until something is
// registered, every message and event goes to the default handler, which logs its ids and answers `success`.
//
// Example (uncomment and adapt):
//   messageHandlers.register('text', async (message) =>
//     message.content === 'ping' ? { msgType: 'text', content: 'pong' } : undefined);
//   messageHandlers.register('event:subscribe', async (event, { authorizerAppid, logger }) => {
//     logger.info('account.subscribed', { authorizerAppid, createTime: event.createTime });
//   });
import { createMessageHandlerRegistry } from './message-handlers.ts';

/** The registry the deployed message function uses; register on it below, at module load (it is code, not state). */
export const messageHandlers = createMessageHandlerRegistry();
