import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { claimMessage, finishMessage, forgetMessage, MESSAGE_MARKER_TTL_S, messageDedupeId } from '../../../lib/store/deliveries.ts';
import { MESSAGE_HANDLING_MS } from '../../../lib/kernel/limits.ts';
import type { StoreDeps } from '../../../lib/store/keys.ts';
import { parseAccountMessage } from '../../../lib/wechat/account-messages.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';

// In the future, so DynamoDB Local's fast TTL deletion never removes a marker under test.
const NOW = Date.parse('2030-01-01T00:00:00Z');
const NOW_S = NOW / 1000;
const APPID = 'wxc736b9251b3c6c41';
let table: TestTable;
let deps: StoreDeps;

const xml = (from: string, createTime: number, body: string) =>
  `<xml><ToUserName>gh_26128078e9ab</ToUserName><FromUserName>${from}</FromUserName><CreateTime>${createTime}</CreateTime>${body}</xml>`;
const text = (msgId: string, from = 'oUser1', createTime = NOW_S) =>
  parseAccountMessage(xml(from, createTime, `<MsgType>text</MsgType><Content>hi</Content><MsgId>${msgId}</MsgId>`));
const event = (name: string, from = 'oUser1', createTime = NOW_S) =>
  parseAccountMessage(xml(from, createTime, `<MsgType>event</MsgType><Event>${name}</Event>`));

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

const marker = (id: string, owner = 'attempt-1', msgType = 'text') => ({ id, authorizerAppid: APPID, msgType, owner });
const read = async (id: string) => (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: `MSG#${id}`, sk: 'MSG' } }))).Item;

describe('messages.claimMessage', () => {
  it('lets one attempt claim a delivery, with a handling deadline and a one-day expiresAt; the others find it in flight', async () => {
    // Prepare
    const id = messageDedupeId(APPID, text('900'));
    // Act
    const results = await Promise.all(['a', 'b', 'c'].map((owner) => claimMessage(deps, marker(id, owner))));
    // Assess
    assert.deepEqual(results.toSorted(), ['claimed', 'in_flight', 'in_flight']);
    const item = await read(id);
    assert.equal(item?.state, 'handling');
    assert.equal(item?.handlingUntil, NOW + MESSAGE_HANDLING_MS);
    assert.equal(item?.expiresAt, NOW_S + MESSAGE_MARKER_TTL_S);
    assert.deepEqual([item?.authorizerAppid, item?.msgType, item?.receivedAt], [APPID, 'text', NOW_S]);
  });

  it('reports a finished delivery as done for every later attempt', async () => {
    // Prepare
    const id = messageDedupeId(APPID, text('902'));
    await claimMessage(deps, marker(id));
    // Act
    await finishMessage(deps, id);
    const later = await claimMessage({ ...deps, clock: () => NOW + MESSAGE_HANDLING_MS + 1 }, marker(id, 'attempt-2'));
    // Assess
    assert.equal(later, 'done');
    const item = await read(id);
    assert.equal(item?.state, 'done');
    assert.equal(item?.handlingUntil, undefined);
    assert.equal(item?.expiresAt, NOW_S + MESSAGE_MARKER_TTL_S);
  });

  it('takes over a handling claim that has run out (its handler died), never a live one', async () => {
    // Prepare
    const id = messageDedupeId(APPID, text('903'));
    await claimMessage(deps, marker(id, 'died'));
    // Act
    const live = await claimMessage({ ...deps, clock: () => NOW + MESSAGE_HANDLING_MS - 1 }, marker(id, 'retry-1'));
    const expired = await claimMessage({ ...deps, clock: () => NOW + MESSAGE_HANDLING_MS }, marker(id, 'retry-2'));
    // Assess
    assert.equal(live, 'in_flight');
    assert.equal(expired, 'claimed');
    assert.equal((await read(id))?.owner, 'retry-2');
  });

  it('treats a marker past expiresAt as absent even before TTL deletes it, and a marker without a state as done', async () => {
    // Prepare
    const id = messageDedupeId(APPID, text('901'));
    await table.doc.send(new PutCommand({ TableName: table.tableName, Item: { pk: `MSG#${id}`, sk: 'MSG', expiresAt: NOW_S + 60 } }));
    const later = { ...deps, clock: () => NOW + 61_000 };
    // Act
    const before = await claimMessage(deps, marker(id));
    const after = await claimMessage(later, marker(id));
    // Assess
    assert.equal(before, 'done');
    assert.equal(after, 'claimed');
  });
});

describe('messages.forgetMessage', () => {
  it("drops our own claim so the next delivery is handled again, and leaves another attempt's claim alone", async () => {
    // Prepare
    const id = messageDedupeId(APPID, event('subscribe'));
    await claimMessage(deps, marker(id, 'mine', 'event'));
    // Act
    await forgetMessage(deps, id, 'someone-else');
    const stillClaimed = await claimMessage(deps, marker(id, 'other', 'event'));
    await forgetMessage(deps, id, 'mine');
    // Assess
    assert.equal(stillClaimed, 'in_flight');
    assert.equal(await claimMessage(deps, marker(id, 'next', 'event')), 'claimed');
  });

  it('never drops a finished delivery', async () => {
    // Prepare
    const id = messageDedupeId(APPID, event('CLICK'));
    await claimMessage(deps, marker(id, 'mine', 'event'));
    await finishMessage(deps, id);
    // Act
    await forgetMessage(deps, id, 'mine');
    // Assess
    assert.equal(await claimMessage(deps, marker(id, 'next', 'event')), 'done');
  });
});
