import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BatchWriteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import {
  listDueAuthorizers,
  nextRefreshFor,
  postponeRefresh,
  REFRESH_LEAD_S,
  refreshSoon,
  scheduleAttributes,
  unschedule,
  type DueCursor,
} from '../../../lib/store/schedule.ts';
import { authorizerKey, componentKey, DUE_AUTHORIZER, DUE_SHARDS, duePartition, dueShardOf, dueSortKey, listKeys } from '../../../lib/store/keys.ts';
import { tokenItem } from '../../../lib/store/tokens.ts';
import { ALL_SHARDS, REFRESH_WINDOW_S, SCHEDULE_INTERVAL_S } from '../../../lib/tokens/scheduled-refresh.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';

// A day ahead, so nothing here is near its TTL.
const NOW_S = Math.floor(Date.now() / 1000) + 86_400;
let table: TestTable;
let deps: { doc: TestTable['doc']; tableName: string; clock: () => number };

const appid = (i: number) => `wx${(0xd0e0000000000000n + BigInt(i)).toString(16)}`;

const writeAll = async (items: Record<string, unknown>[]) => {
  const batches = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  await Promise.all(
    batches.map((batch) =>
      table.doc.send(new BatchWriteCommand({ RequestItems: { [table.tableName]: batch.map((Item) => ({ PutRequest: { Item } })) } })),
    ),
  );
};

const profile = (a: string, status: string, nextRefreshAt?: number) => ({
  ...authorizerKey(a, 'PROFILE'),
  authorizerAppid: a,
  status,
  refreshToken: `rt-${a}`,
  funcInfo: [1],
  authorizedAt: NOW_S - 86_400,
  updatedAt: NOW_S - 86_400,
  version: 1,
  ...listKeys(a),
  ...(nextRefreshAt === undefined ? {} : scheduleAttributes(a, nextRefreshAt)),
});

const stored = async (a: string) =>
  (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: authorizerKey(a, 'PROFILE'), ConsistentRead: true }))).Item;

/** 300 authorized profiles scheduled at NOW + 60·i s (i = 0…299), their tokens, an unauthorized profile and the component token. */
before(async () => {
  table = await createTestTable();
  deps = { doc: table.doc, tableName: table.tableName, clock: () => NOW_S * 1000 };
  const profiles = Array.from({ length: 300 }, (_, i) => profile(appid(i), 'authorized', NOW_S + 60 * i));
  const tokens = Array.from({ length: 300 }, (_, i) =>
    tokenItem(authorizerKey(appid(i), 'ACCESS_TOKEN'), { accessToken: `at-${i}-xxxxxxxx`, expiresAt: NOW_S + 60 * i + REFRESH_LEAD_S }, NOW_S - 7000),
  );
  const component = tokenItem(componentKey('wx5ce1ab0c0ffee000', 'ACCESS_TOKEN'), { accessToken: 'ct-xxxxxxxx', expiresAt: NOW_S }, NOW_S);
  await writeAll([...profiles, ...tokens, component, profile(appid(999), 'unauthorized')]);
});
after(async () => table.close());

/** Every partition of the schedule read to the end: the appids shard after shard, and each shard's own list. */
const listAll = async (dueBefore: number, pageSize: number) => {
  const appids: string[] = [];
  const byShard = new Map<string, string[]>();
  let consumed = 0;
  let pages = 0;
  for (const shard of ALL_SHARDS) {
    const mine: string[] = [];
    let cursor: DueCursor | undefined;
    do {
      const page = await listDueAuthorizers(deps, { dueBefore, pageSize, shard, exclusiveStartKey: cursor });
      mine.push(...page.appids);
      consumed += page.consumedCapacity;
      pages += 1;
      cursor = page.lastKey;
    } while (cursor);
    byShard.set(String(shard), mine);
    appids.push(...mine);
  }
  return { appids, byShard, consumed, pages };
};

const indexOf = (a: string) => Number(BigInt(`0x${a.slice(2)}`) - 0xd0e0000000000000n);

describe('schedule.listDueAuthorizers', () => {
  it('returns exactly the authorizers whose nextRefreshAt is at or before dueBefore, each shard soonest first', async () => {
    // Act
    const { appids, byShard } = await listAll(NOW_S + 60 * 49, 1000);
    // Assess
    assert.deepEqual(
      [...appids].sort(),
      Array.from({ length: 50 }, (_, i) => appid(i)),
    );
    for (const [shard, list] of byShard) {
      const order = list.map(indexOf);
      assert.deepEqual(
        order,
        [...order].sort((x, y) => x - y),
        `shard ${shard} in schedule order`,
      );
      assert.ok(
        list.every((a) => String(dueShardOf(a)) === shard),
        `shard ${shard} holds only its own appids`,
      );
    }
  });

  it('spreads the profiles over all the shards, none holding more than twice its share', async () => {
    // Act
    const { byShard } = await listAll(NOW_S + 86_400, 1000);
    // Assess
    const sizes = Array.from({ length: DUE_SHARDS }, (_, i) => byShard.get(String(i))?.length ?? 0);
    assert.equal(
      sizes.reduce((x, y) => x + y, 0),
      300,
    );
    assert.ok(Math.min(...sizes) > 0 && Math.max(...sizes) <= (2 * 300) / DUE_SHARDS, `shard sizes ${sizes.join(' ')}`);
    assert.deepEqual(byShard.get('unsharded'), []);
  });

  it('pages through the due entries with the cursor it returns', async () => {
    // Act
    const { appids, pages } = await listAll(NOW_S + 60 * 99, 3);
    // Assess
    assert.equal(appids.length, 100);
    assert.equal(new Set(appids).size, 100);
    assert.ok(pages >= 100 / 3, `expected at least 34 pages of 3, got ${pages}`);
  });

  it('lists profiles only: never a token item, the component token or an account off the schedule', async () => {
    // Act
    const { appids } = await listAll(NOW_S + 86_400, 1000);
    // Assess
    assert.equal(appids.length, 300);
    assert.equal(new Set(appids).size, 300);
    assert.ok(appids.every((a) => a.startsWith('wx') && a !== 'wx5ce1ab0c0ffee000' && a !== appid(999)));
  });

  it('reports read capacity that grows with what is due in a shard, not with what it stores', async (t) => {
    // Prepare: 600 profiles of one shard in a table of their own (each shard's query costs at least 0.5 RCU, so
    // the 300 above, spread over 17 partitions, cannot show the difference).
    const own = await createTestTable();
    t.after(() => own.close());
    const shard = 3;
    const inShard: string[] = [];
    for (let i = 0; inShard.length < 600; i += 1) if (dueShardOf(appid(10_000 + i)) === shard) inShard.push(appid(10_000 + i));
    const ownDeps = { doc: own.doc, tableName: own.tableName, clock: deps.clock };
    const batches = [];
    for (let i = 0; i < inShard.length; i += 25) batches.push(inShard.slice(i, i + 25));
    for (const batch of batches) {
      const items = batch.map((a) => ({ PutRequest: { Item: profile(a, 'authorized', NOW_S + 60 * inShard.indexOf(a)) } }));
      await own.doc.send(new BatchWriteCommand({ RequestItems: { [own.tableName]: items } }));
    }
    const read = async (dueBefore: number) => {
      let consumed = 0;
      let count = 0;
      let cursor: DueCursor | undefined;
      do {
        const page = await listDueAuthorizers(ownDeps, { dueBefore, shard, exclusiveStartKey: cursor });
        consumed += page.consumedCapacity;
        count += page.appids.length;
        cursor = page.lastKey;
      } while (cursor);
      return { consumed, count };
    };
    // Act
    const few = await read(NOW_S + 60 * 29);
    const all = await read(NOW_S + 86_400);
    // Assess
    assert.deepEqual([few.count, all.count], [30, 600]);
    assert.ok(few.consumed > 0, 'the query reports consumed capacity');
    assert.ok(few.consumed * 5 < all.consumed, `30 due cost ${few.consumed} RCU, 600 cost ${all.consumed} RCU`);
  });

  it('returns an empty page when nothing is due', async () => {
    // Act
    const page = await listDueAuthorizers(deps, { dueBefore: NOW_S - 86_400, shard: dueShardOf(appid(0)) });
    // Assess
    assert.deepEqual(page.appids, []);
    assert.equal(page.lastKey, undefined);
  });

  it('rejects a cut-off that is not epoch seconds', async () => {
    // Act + Assess
    await assert.rejects(listDueAuthorizers(deps, { dueBefore: NOW_S + 0.5, shard: 0 }), RangeError);
    await assert.rejects(listDueAuthorizers(deps, { dueBefore: -1, shard: 0 }), RangeError);
  });
});

describe('schedule: moving an account', () => {
  it('makes a token due REFRESH_LEAD_S before it expires: one schedule interval plus the refresh window', () => {
    assert.equal(REFRESH_LEAD_S, SCHEDULE_INTERVAL_S + REFRESH_WINDOW_S);
    assert.equal(nextRefreshFor(NOW_S + 7200), NOW_S + 7200 - REFRESH_LEAD_S);
  });

  it('postpones an account only to a later time, and never puts one that is off the schedule on it', async () => {
    // Act
    const later = await postponeRefresh(deps, appid(10), NOW_S + 5000);
    const earlier = await postponeRefresh(deps, appid(10), NOW_S + 100);
    const off = await postponeRefresh(deps, appid(999), NOW_S + 5000);
    // Assess
    assert.deepEqual([later, earlier, off], [true, false, false]);
    assert.equal((await stored(appid(10)))?.nextRefreshAt, NOW_S + 5000);
    assert.equal((await stored(appid(10)))?.gsi1sk, String(NOW_S + 5000).padStart(12, '0'));
    assert.equal((await stored(appid(999)))?.gsi1pk, undefined);
  });

  it('reads a profile scheduled before the sharding from the unsharded partition, and moves it into its shard', async () => {
    // Prepare: written as the first version of the schedule wrote it.
    const legacy = appid(997);
    await writeAll([{ ...profile(legacy, 'authorized'), nextRefreshAt: NOW_S - 30, gsi1pk: DUE_AUTHORIZER, gsi1sk: dueSortKey(NOW_S - 30) }]);
    const before = await listDueAuthorizers(deps, { dueBefore: NOW_S, shard: 'unsharded' });
    // Act
    const moved = await postponeRefresh(deps, legacy, NOW_S + 100);
    // Assess
    assert.deepEqual(before.appids, [legacy]);
    assert.equal(moved, true);
    assert.deepEqual((await listDueAuthorizers(deps, { dueBefore: NOW_S + 100, shard: 'unsharded' })).appids, []);
    assert.equal((await stored(legacy))?.gsi1pk, duePartition(dueShardOf(legacy)));
    assert.ok((await listAll(NOW_S + 100, 1000)).byShard.get(String(dueShardOf(legacy)))?.includes(legacy));
  });

  it('makes a scheduled account due now, and leaves one already due as it is', async () => {
    // Act
    const moved = await refreshSoon(deps, appid(200));
    const already = await refreshSoon(deps, appid(0));
    // Assess
    assert.deepEqual([moved, already], [true, false]);
    assert.equal((await stored(appid(200)))?.nextRefreshAt, NOW_S);
    assert.ok((await listAll(NOW_S, 1000)).appids.includes(appid(200)));
  });

  it('takes an account that is no longer authorized off the schedule, never an authorized one', async () => {
    // Prepare
    await writeAll([profile(appid(998), 'needs_reauth', NOW_S - 60)]);
    // Act
    const removed = await unschedule(deps, appid(998));
    const kept = await unschedule(deps, appid(1));
    // Assess
    assert.deepEqual([removed, kept], [true, false]);
    const item = await stored(appid(998));
    assert.deepEqual([item?.gsi1pk, item?.gsi1sk, item?.nextRefreshAt, item?.refreshToken], [undefined, undefined, undefined, `rt-${appid(998)}`]);
    assert.ok(!(await listAll(NOW_S + 86_400, 1000)).appids.includes(appid(998)));
  });
});
