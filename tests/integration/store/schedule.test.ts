import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { listDueAuthorizers, type DueCursor } from '../../../lib/store/schedule.ts';
import { authorizerKey, componentKey, DUE_AUTHORIZER, DUE_COMPONENT } from '../../../lib/store/keys.ts';
import { tokenItem } from '../../../lib/store/tokens.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';

// A day ahead: DynamoDB Local's TTL deletes items whose expiresAt has passed within seconds (docs/architecture.md §5).
const NOW_S = Math.floor(Date.now() / 1000) + 86_400;
let table: TestTable;
let deps: { doc: TestTable['doc']; tableName: string };

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

/** 300 authorizer tokens expiring at NOW + 60·i s (i = 0…299), plus a component token due at NOW. */
before(async () => {
  table = await createTestTable();
  deps = { doc: table.doc, tableName: table.tableName };
  const tokens = Array.from({ length: 300 }, (_, i) =>
    tokenItem(authorizerKey(appid(i), 'ACCESS_TOKEN'), DUE_AUTHORIZER, { accessToken: `at-${i}-xxxxxxxx`, expiresAt: NOW_S + 60 * i }, NOW_S - 7000),
  );
  const component = tokenItem(
    componentKey('wx5ce1ab0c0ffee000', 'ACCESS_TOKEN'),
    DUE_COMPONENT,
    { accessToken: 'ct-xxxxxxxx', expiresAt: NOW_S },
    NOW_S,
  );
  await writeAll([...tokens, component]);
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

describe('due.listDueAuthorizers', () => {
  it('returns exactly the authorizers whose token expires at or before dueBefore, soonest first', async () => {
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

  it('never lists the component token, which sits in its own DUE partition', async () => {
    // Act
    const { appids } = await listAll(NOW_S + 86_400, 1000);
    // Assess
    assert.equal(appids.length, 300);
    assert.ok(appids.every((a) => a.startsWith('wx') && a !== 'wx5ce1ab0c0ffee000'));
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
