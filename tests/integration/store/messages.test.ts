import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { forgetMessage, markMessageSeen, MESSAGE_MARKER_TTL_S, messageDedupeId } from '../../../lib/store/messages.ts';
import type { StoreDeps } from '../../../lib/store/types.ts';
import { parseMpMessage } from '../../../lib/wechat/mp-messages.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';

// In the future, so DynamoDB Local's fast TTL deletion never removes a marker under test.
const NOW = Date.parse('2030-01-01T00:00:00Z');
const NOW_S = NOW / 1000;
const APPID = 'wxc736b9251b3c6c41';
let table: TestTable;
let deps: StoreDeps;

const xml = (from: string, createTime: number, body: string) =>
  `<xml><ToUserName>gh_26128078e9ab</ToUserName><FromUserName>${from}</FromUserName><CreateTime>${createTime}</CreateTime>${body}</xml>`;
const text = (msgId: string, from = 'oUser1', createTime = NOW_S) => parseMpMessage(xml(from, createTime, `<MsgType>text</MsgType><Content>hi</Content><MsgId>${msgId}</MsgId>`));
const event = (name: string, from = 'oUser1', createTime = NOW_S) => parseMpMessage(xml(from, createTime, `<MsgType>event</MsgType><Event>${name}</Event>`));

before(async () => {
  table = await createTestTable();
  deps = { doc: table.doc, tableName: table.tableName, clock: () => NOW };
});
after(async () => table.close());

describe('messages.messageDedupeId', () => {
  it('identifies messages by account and MsgId, whoever sent them and whenever', () => {
    assert.equal(messageDedupeId(APPID, text('22449548215715819')), messageDedupeId(APPID, text('22449548215715819', 'oOther', NOW_S + 3)));
    assert.notEqual(messageDedupeId(APPID, text('22449548215715819')), messageDedupeId(APPID, text('22449548215715820')));
    assert.notEqual(messageDedupeId(APPID, text('1')), messageDedupeId('wx570bc396a51b8ff8', text('1')));
  });

  it('identifies events by sender, CreateTime and event name', () => {
    assert.equal(messageDedupeId(APPID, event('LOCATION')), messageDedupeId(APPID, event('LOCATION')));
    assert.notEqual(messageDedupeId(APPID, event('LOCATION')), messageDedupeId(APPID, event('LOCATION', 'oUser2')));
    assert.notEqual(messageDedupeId(APPID, event('LOCATION')), messageDedupeId(APPID, event('LOCATION', 'oUser1', NOW_S + 1)));
    assert.notEqual(messageDedupeId(APPID, event('LOCATION')), messageDedupeId(APPID, event('CLICK')));
  });
});

describe('messages.markMessageSeen', () => {
  it('writes one MSG marker with a one-day expiresAt and reports every later delivery as a duplicate', async () => {
    // Prepare
    const id = messageDedupeId(APPID, text('900'));
    // Act
    const results = await Promise.all([1, 2, 3].map(() => markMessageSeen(deps, { id, authorizerAppid: APPID, msgType: 'text' })));
    // Assess
    assert.deepEqual(results.toSorted(), ['duplicate', 'duplicate', 'first']);
    const item = (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: `MSG#${id}`, sk: 'MSG' } }))).Item;
    assert.deepEqual(item, { pk: `MSG#${id}`, sk: 'MSG', authorizerAppid: APPID, msgType: 'text', receivedAt: NOW_S, expiresAt: NOW_S + MESSAGE_MARKER_TTL_S });
  });

  it('treats a marker past expiresAt as absent even before TTL deletes it', async () => {
    // Prepare
    const id = messageDedupeId(APPID, text('901'));
    await table.doc.send(new PutCommand({ TableName: table.tableName, Item: { pk: `MSG#${id}`, sk: 'MSG', expiresAt: NOW_S + 60 } }));
    const later = { ...deps, clock: () => NOW + 61_000 };
    // Act
    const before = await markMessageSeen(deps, { id, authorizerAppid: APPID, msgType: 'text' });
    const after = await markMessageSeen(later, { id, authorizerAppid: APPID, msgType: 'text' });
    // Assess
    assert.equal(before, 'duplicate');
    assert.equal(after, 'first');
  });
});

describe('messages.forgetMessage', () => {
  it('removes the marker so the next delivery is handled again', async () => {
    // Prepare
    const id = messageDedupeId(APPID, event('subscribe'));
    await markMessageSeen(deps, { id, authorizerAppid: APPID, msgType: 'event' });
    // Act
    await forgetMessage(deps, id);
    // Assess
    assert.equal(await markMessageSeen(deps, { id, authorizerAppid: APPID, msgType: 'event' }), 'first');
  });
});
