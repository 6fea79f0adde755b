// The one-off migration against DynamoDB Local: items as the first version of the table wrote them become
// what the code reads now, and a second run changes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BatchWriteCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { migrateSchedule } from '../../../scripts/migrate-schedule.ts';
import { listAuthorizers } from '../../../lib/store/authorizers.ts';
import { listDueAuthorizers } from '../../../lib/store/schedule.ts';
import { dueEverywhere } from '../../helpers/schedule.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';

const NOW_S = Math.floor(Date.now() / 1000);
let table: TestTable;
const deps = () => ({ doc: table.doc, tableName: table.tableName, clock: () => NOW_S * 1000 });
const all = async () =>
  ((await table.doc.send(new ScanCommand({ TableName: table.tableName, ConsistentRead: true }))).Items ?? []).sort((a, b) =>
    `${a.pk}${a.sk}`.localeCompare(`${b.pk}${b.sk}`),
  );
const find = (items: Record<string, unknown>[], pk: string, sk: string) => items.find((i) => i.pk === pk && i.sk === sk);

const profile = (appid: string, status: string) => ({
  pk: `AUTHORIZER#${appid}`,
  sk: 'PROFILE',
  authorizerAppid: appid,
  status,
  refreshToken: `refreshtoken@@@${appid}`,
  funcInfo: [1],
  authorizedAt: NOW_S - 86_400,
  updatedAt: NOW_S - 86_400,
  version: 3,
  gsi1pk: 'AUTHORIZERS',
  gsi1sk: appid,
});

before(async () => {
  table = await createTestTable();
  const old = [
    profile('wx1000000000000001', 'authorized'),
    {
      pk: 'AUTHORIZER#wx1000000000000001',
      sk: 'ACCESS_TOKEN',
      accessToken: 'at-1',
      expiresAt: NOW_S + 3000,
      obtainedAt: NOW_S - 4200,
      gsi1pk: 'DUE#authorizer',
      gsi1sk: String(NOW_S + 3000).padStart(12, '0'),
    },
    profile('wx1000000000000002', 'authorized'),
    profile('wx1000000000000003', 'needs_reauth'),
    { pk: 'LEASE#authorizer-token#wx1000000000000001', sk: 'LEASE', owner: 'x', leaseUntil: NOW_S * 1000, expiresAt: NOW_S + 3600 },
    { pk: 'EVENT#abc', sk: 'EVENT', kind: 'component_push', receivedAt: NOW_S, expiresAt: NOW_S + 604_800 },
  ];
  await table.doc.send(new BatchWriteCommand({ RequestItems: { [table.tableName]: old.map((Item) => ({ PutRequest: { Item } })) } }));
});
after(async () => table.close());

describe('scripts/migrate-schedule', () => {
  it('puts every authorized profile on the schedule, lists every profile on gsi2, strips token schedule keys and adds ttl', async () => {
    // Act
    const summary = await migrateSchedule(deps());
    // Assess
    assert.deepEqual(summary, { scanned: 6, profiles: 3, scheduled: 2, tokens: 1, ttlAdded: 3 });
    const items = await all();
    assert.equal(find(items, 'AUTHORIZER#wx1000000000000001', 'PROFILE')?.nextRefreshAt, NOW_S + 3000 - 900);
    assert.equal(find(items, 'AUTHORIZER#wx1000000000000002', 'PROFILE')?.nextRefreshAt, NOW_S, 'no token: due now');
    assert.equal(find(items, 'AUTHORIZER#wx1000000000000003', 'PROFILE')?.gsi1pk, undefined, 'needs_reauth is off the schedule');
    const token = find(items, 'AUTHORIZER#wx1000000000000001', 'ACCESS_TOKEN');
    assert.deepEqual([token?.gsi1pk, token?.ttl], [undefined, NOW_S + 3000 + 86_400]);
    assert.equal(find(items, 'EVENT#abc', 'EVENT')?.ttl, NOW_S + 604_800);
    assert.deepEqual(await dueEverywhere(deps(), NOW_S + 86_400), ['wx1000000000000001', 'wx1000000000000002']);
    // Moved into their shards: nothing is left in the unsharded partition.
    assert.deepEqual((await listDueAuthorizers(deps(), { dueBefore: NOW_S + 86_400, shard: 'unsharded' })).appids, []);
    assert.equal((await listAuthorizers(deps())).authorizers.length, 3);
  });

  it('changes nothing on a second run', async () => {
    // Prepare
    const before = await all();
    // Act
    await migrateSchedule(deps());
    // Assess
    assert.deepEqual(await all(), before);
  });
});
