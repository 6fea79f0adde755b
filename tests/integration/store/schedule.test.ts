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
import { authorizerKey, componentKey, listKeys } from '../../../lib/store/keys.ts';
import { tokenItem } from '../../../lib/store/tokens.ts';
import { REFRESH_WINDOW_S, SCHEDULE_INTERVAL_S } from '../../../lib/tokens/scheduled-refresh.ts';
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
  ...(nextRefreshAt === undefined ? {} : scheduleAttributes(nextRefreshAt)),
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

const listAll = async (dueBefore: number, pageSize: number) => {
  const appids: string[] = [];
  let consumed = 0;
  let pages = 0;
  let cursor: DueCursor | undefined;
  do {
    const page = await listDueAuthorizers(deps, { dueBefore, pageSize, exclusiveStartKey: cursor });
    appids.push(...page.appids);
    consumed += page.consumedCapacity;
    pages += 1;
    cursor = page.lastKey;
  } while (cursor);
  return { appids, consumed, pages };
};

describe('schedule.listDueAuthorizers', () => {
  it('returns exactly the authorizers whose nextRefreshAt is at or before dueBefore, soonest first', async () => {
    // Act
    const { appids } = await listAll(NOW_S + 60 * 49, 1000);
    // Assess
    assert.deepEqual(
      appids,
      Array.from({ length: 50 }, (_, i) => appid(i)),
    );
  });

  it('pages through the due entries with the cursor it returns', async () => {
    // Act
    const { appids, pages } = await listAll(NOW_S + 60 * 99, 30);
    // Assess
    assert.equal(appids.length, 100);
    assert.equal(new Set(appids).size, 100);
    assert.ok(pages >= 4, `expected at least 4 pages, got ${pages}`);
  });

  it('lists profiles only: never a token item, the component token or an account off the schedule', async () => {
    // Act
    const { appids } = await listAll(NOW_S + 86_400, 1000);
    // Assess
    assert.equal(appids.length, 300);
    assert.equal(new Set(appids).size, 300);
    assert.ok(appids.every((a) => a.startsWith('wx') && a !== 'wx5ce1ab0c0ffee000' && a !== appid(999)));
  });

  it('reports read capacity that grows with what is due, not with what is stored', async () => {
    // Act
    const few = await listAll(NOW_S + 60 * 29, 1000);
    const all = await listAll(NOW_S + 86_400, 1000);
    // Assess
    assert.equal(few.appids.length, 30);
    assert.ok(few.consumed > 0, 'the query reports consumed capacity');
    assert.ok(few.consumed * 5 < all.consumed, `30 due cost ${few.consumed} RCU, 300 cost ${all.consumed} RCU`);
  });

  it('returns an empty page when nothing is due', async () => {
    // Act
    const page = await listDueAuthorizers(deps, { dueBefore: NOW_S - 86_400 });
    // Assess
    assert.deepEqual(page.appids, []);
    assert.equal(page.lastKey, undefined);
  });

  it('rejects a cut-off that is not epoch seconds', async () => {
    // Act + Assess
    await assert.rejects(listDueAuthorizers(deps, { dueBefore: NOW_S + 0.5 }), RangeError);
    await assert.rejects(listDueAuthorizers(deps, { dueBefore: -1 }), RangeError);
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
