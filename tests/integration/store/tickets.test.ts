import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { getVerifyTicket, saveVerifyTicket, TICKET_TTL_S } from '../../../lib/store/tickets.ts';
import type { StoreDeps } from '../../../lib/store/keys.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';

const NOW = Date.parse('2026-11-23T20:00:00Z');
const NOW_S = NOW / 1000;
let table: TestTable;
let deps: StoreDeps;
let n = 0;
/** A fresh component appid per test, so tests share the table without sharing items. */
const nextAppId = () => `wx${(0xc0ffee0000000000n + BigInt((n += 1))).toString(16)}`;

before(async () => {
  table = await createTestTable();
  deps = { doc: table.doc, tableName: table.tableName, clock: () => NOW };
});
after(async () => table.close());

describe('tickets.saveVerifyTicket', () => {
  it('stores the ticket with expiresAt 12 hours after CreateTime', async () => {
    // Prepare
    const componentAppId = nextAppId();
    // Act
    const result = await saveVerifyTicket(deps, { componentAppId, ticket: 'ticket@@@first', createTime: NOW_S - 10 });
    // Assess
    assert.equal(result, 'saved');
    const { Item } = await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: `COMPONENT#${componentAppId}`, sk: 'TICKET' } }));
    assert.equal(Item?.ticket, 'ticket@@@first');
    assert.equal(Item?.createTime, NOW_S - 10);
    assert.equal(Item?.expiresAt, NOW_S - 10 + TICKET_TTL_S);
    assert.equal(TICKET_TTL_S, 43_200);
  });

  it('keeps the newer ticket when an older push arrives after it', async () => {
    // Prepare
    const componentAppId = nextAppId();
    await saveVerifyTicket(deps, { componentAppId, ticket: 'ticket@@@newer', createTime: NOW_S });
    // Act
    const result = await saveVerifyTicket(deps, { componentAppId, ticket: 'ticket@@@older', createTime: NOW_S - 600 });
    // Assess
    assert.equal(result, 'stale');
    assert.equal((await getVerifyTicket(deps, componentAppId))?.ticket, 'ticket@@@newer');
  });

  it('treats a repeated push with the same CreateTime as stale and keeps the first', async () => {
    // Prepare
    const componentAppId = nextAppId();
    await saveVerifyTicket(deps, { componentAppId, ticket: 'ticket@@@same', createTime: NOW_S });
    // Act
    const result = await saveVerifyTicket(deps, { componentAppId, ticket: 'ticket@@@other', createTime: NOW_S });
    // Assess
    assert.equal(result, 'stale');
    assert.equal((await getVerifyTicket(deps, componentAppId))?.ticket, 'ticket@@@same');
  });

  it('replaces the ticket with one that has a newer CreateTime', async () => {
    // Prepare
    const componentAppId = nextAppId();
    await saveVerifyTicket(deps, { componentAppId, ticket: 'ticket@@@old', createTime: NOW_S - 600 });
    // Act
    const result = await saveVerifyTicket(deps, { componentAppId, ticket: 'ticket@@@new', createTime: NOW_S });
    // Assess
    assert.equal(result, 'saved');
    assert.deepEqual(await getVerifyTicket(deps, componentAppId), {
      componentAppId,
      ticket: 'ticket@@@new',
      createTime: NOW_S,
      expiresAt: NOW_S + TICKET_TTL_S,
    });
  });

  it('keeps tickets of different components apart', async () => {
    // Prepare
    const [a, b] = [nextAppId(), nextAppId()];
    // Act
    await saveVerifyTicket(deps, { componentAppId: a, ticket: 'ticket@@@a', createTime: NOW_S });
    await saveVerifyTicket(deps, { componentAppId: b, ticket: 'ticket@@@b', createTime: NOW_S - 1 });
    // Assess
    assert.equal((await getVerifyTicket(deps, a))?.ticket, 'ticket@@@a');
    assert.equal((await getVerifyTicket(deps, b))?.ticket, 'ticket@@@b');
  });
});

describe('tickets.getVerifyTicket', () => {
  it('returns undefined when no ticket was ever pushed', async () => {
    assert.equal(await getVerifyTicket(deps, nextAppId()), undefined);
  });

  it('returns undefined when the item is past expiresAt but not yet deleted by TTL', async () => {
    // Prepare
    const componentAppId = nextAppId();
    await saveVerifyTicket(deps, { componentAppId, ticket: 'ticket@@@aging', createTime: NOW_S });
    const later = { ...deps, clock: () => (NOW_S + TICKET_TTL_S) * 1000 };
    const justBefore = { ...deps, clock: () => (NOW_S + TICKET_TTL_S - 1) * 1000 };
    // Act
    const expired = await getVerifyTicket(later, componentAppId);
    const valid = await getVerifyTicket(justBefore, componentAppId);
    // Assess
    assert.equal(expired, undefined);
    assert.equal(valid?.ticket, 'ticket@@@aging');
  });
});
