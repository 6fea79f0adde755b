import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryLogger } from '../../../lib/kernel/logger.ts';
import { createMessageHandlerRegistry, defaultMessageHandler, type MessageHandler } from '../../../lib/intake/message-handlers.ts';
import { parseAccountMessage } from '../../../lib/wechat/account-messages.ts';

const xml = (body: string) => `<xml><ToUserName>gh_1</ToUserName><FromUserName>oUser1</FromUserName><CreateTime>1700000000</CreateTime>${body}</xml>`;
const text = parseAccountMessage(xml('<MsgType>text</MsgType><Content>secret words</Content><MsgId>22449548215715819</MsgId>'));
const subscribe = parseAccountMessage(xml('<MsgType>event</MsgType><Event>subscribe</Event>'));
const click = parseAccountMessage(xml('<MsgType>event</MsgType><Event>CLICK</Event><EventKey>K</EventKey>'));
const image = parseAccountMessage(xml('<MsgType>image</MsgType><MediaId>m</MediaId><MsgId>2</MsgId>'));

const named = (name: string): MessageHandler => Object.assign(async () => undefined, { handlerName: name });
const nameOf = (handler: MessageHandler) => (handler as MessageHandler & { handlerName?: string }).handlerName ?? 'default';

describe('handlers.createMessageHandlerRegistry', () => {
  it('picks event:<Event>, then the MsgType, then *, then the default', () => {
    // Prepare
    const registry = createMessageHandlerRegistry();
    registry.register('event:subscribe', named('subscribe'));
    registry.register('event', named('event'));
    registry.register('text', named('text'));
    // Act
    const before = [text, subscribe, click, image].map((m) => nameOf(registry.handlerFor(m)));
    registry.register('*', named('star'));
    const after = nameOf(registry.handlerFor(image));
    // Assess
    assert.deepEqual(before, ['text', 'subscribe', 'event', 'default']);
    assert.equal(after, 'star');
    assert.deepEqual(registry.keys(), ['event:subscribe', 'event', 'text', '*']);
  });

  it('refuses a second handler for the same key', () => {
    const registry = createMessageHandlerRegistry();
    registry.register('text', named('a'));
    assert.throws(() => registry.register('text', named('b')), /already registered/);
  });

  it('hands a text handler the typed message and passes its reply back', async () => {
    // Prepare
    const registry = createMessageHandlerRegistry();
    registry.register('text', async (message) => ({ msgType: 'text', content: `echo:${message.content.length}` }));
    // Act
    const reply = await registry.handlerFor(text)(text, { authorizerAppid: 'wx570bc396a51b8ff8', logger: createMemoryLogger() });
    // Assess
    assert.deepEqual(reply, { msgType: 'text', content: 'echo:12' });
  });
});

describe('handlers.defaultMessageHandler', () => {
  it('logs the ids of the message and never its content', async () => {
    // Prepare
    const logger = createMemoryLogger();
    // Act
    const reply = await defaultMessageHandler(text, { authorizerAppid: 'wx570bc396a51b8ff8', logger });
    // Assess
    assert.equal(reply, undefined);
    const [record] = logger.records();
    assert.equal(record?.event, 'message.unhandled');
    assert.equal(record?.msgId, '22449548215715819');
    assert.equal(record?.msgType, 'text');
    assert.equal(record?.authorizerAppid, 'wx570bc396a51b8ff8');
    assert.ok(!logger.lines.join('\n').includes('secret words'));
  });
});
