// Times are in 2030 so DynamoDB Local's real-time TTL sweeper never deletes an item a test reads back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  expireAuthorizerToken,
  expireComponentToken,
  getAuthorizerToken,
  getComponentToken,
  putComponentToken,
  StaleWriteError,
} from '../../../lib/store/tokens.ts';
import { saveAuthorization } from '../../../lib/store/grants.ts';
import { duePartition, dueShardOf, type StoreDeps } from '../../../lib/store/keys.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';

const NOW_S = Date.parse('2030-01-01T00:00:00Z') / 1000;
let table: TestTable;
let n = 0;
const nextAppId = () => `wx${(0xa0ce55000000000n + BigInt((n += 1))).toString(16).padStart(16, '0')}`;
const depsAt = (atS: number): StoreDeps => ({ doc: table.doc, tableName: table.tableName, clock: () => atS * 1000 });
const rawItem = async (pk: string, sk: string) =>
  (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk, sk }, ConsistentRead: true }))).Item;

before(async () => {
  table = await createTestTable();
});
after(async () => table.close());

describe('tokens.putComponentToken', () => {
  it('stores the token with obtainedAt, no schedule keys, and a ttl a day after its expiry', async () => {
    // Prepare
    const appid = nextAppId();
    // Act
    await putComponentToken(depsAt(NOW_S), appid, { accessToken: 'component-token-1', expiresAt: NOW_S + 7200 });
    // Assess
    const item = await rawItem(`COMPONENT#${appid}`, 'ACCESS_TOKEN');
    assert.equal(item?.accessToken, 'component-token-1');
    assert.equal(item?.obtainedAt, NOW_S);
    assert.equal(item?.gsi1pk, undefined);
    assert.equal(item?.ttl, NOW_S + 7200 + 86_400);
    assert.deepEqual(await getComponentToken(depsAt(NOW_S), appid), { accessToken: 'component-token-1', expiresAt: NOW_S + 7200, obtainedAt: NOW_S });
  });

  it('throws StaleWriteError and keeps the stored token when it expires later than the candidate', async () => {
    // Prepare
    const appid = nextAppId();
    await putComponentToken(depsAt(NOW_S), appid, { accessToken: 'newer-token', expiresAt: NOW_S + 7200 });
    // Act
    const late = putComponentToken(depsAt(NOW_S), appid, { accessToken: 'late-answer', expiresAt: NOW_S + 7000 });
    // Assess
    await assert.rejects(late, StaleWriteError);
    assert.equal((await getComponentToken(depsAt(NOW_S), appid))?.accessToken, 'newer-token');
  });
});

describe('tokens.getComponentToken', () => {
  it('returns undefined when the item is past expiresAt but not yet deleted by TTL', async () => {
    // Prepare
    const appid = nextAppId();
    await putComponentToken(depsAt(NOW_S), appid, { accessToken: 'soon-expired', expiresAt: NOW_S + 7200 });
    // Act
    const atExpiry = await getComponentToken(depsAt(NOW_S + 7200), appid, { consistent: true });
    const before = await getComponentToken(depsAt(NOW_S + 7199), appid, { consistent: true });
    // Assess
    assert.equal(atExpiry, undefined);
    assert.equal(before?.accessToken, 'soon-expired');
    assert.ok(await rawItem(`COMPONENT#${appid}`, 'ACCESS_TOKEN'), 'the item itself is still stored');
  });
});

describe('tokens.expireComponentToken', () => {
  it('expires the token that failed', async () => {
    // Prepare
    const appid = nextAppId();
    await putComponentToken(depsAt(NOW_S), appid, { accessToken: 'failing-token', expiresAt: NOW_S + 7200 });
    // Act
    const expired = await expireComponentToken(depsAt(NOW_S + 60), appid, 'failing-token');
    // Assess
    assert.equal(expired, true);
    assert.equal(await getComponentToken(depsAt(NOW_S + 60), appid), undefined);
    const item = await rawItem(`COMPONENT#${appid}`, 'ACCESS_TOKEN');
    assert.deepEqual([item?.expiresAt, item?.expiredAt], [NOW_S + 60, NOW_S + 60]);
  });

  it('leaves a newer token alone when the caller reports an older one as failed', async () => {
    // Prepare
    const appid = nextAppId();
    await putComponentToken(depsAt(NOW_S), appid, { accessToken: 'old-token', expiresAt: NOW_S + 7200 });
    await putComponentToken(depsAt(NOW_S + 10), appid, { accessToken: 'new-token', expiresAt: NOW_S + 7210 });
    // Act
    const expired = await expireComponentToken(depsAt(NOW_S + 20), appid, 'old-token');
    // Assess
    assert.equal(expired, false);
    assert.equal((await getComponentToken(depsAt(NOW_S + 20), appid))?.accessToken, 'new-token');
  });
});

describe('tokens.authorizer access token', () => {
  const authorize = (appid: string) =>
    saveAuthorization(depsAt(NOW_S), appid, {
      accessToken: 'authorizer-token-1',
      expiresAt: NOW_S + 7200,
      refreshToken: 'refreshtoken@@@one',
      funcInfo: [1],
      authorizedAt: NOW_S - 5,
    });

  it('schedules the profile (never the token) REFRESH_LEAD_S before the expiry, and hides the token once past expiresAt', async () => {
    // Prepare
    const appid = nextAppId();
    await authorize(appid);
    // Act
    const live = await getAuthorizerToken(depsAt(NOW_S + 7199), appid);
    const expired = await getAuthorizerToken(depsAt(NOW_S + 7200), appid);
    // Assess
    assert.equal(live?.accessToken, 'authorizer-token-1');
    assert.equal(expired, undefined);
    const due = await table.doc.send(
      new QueryCommand({
        TableName: table.tableName,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :p AND gsi1sk = :s',
        ExpressionAttributeValues: { ':p': duePartition(dueShardOf(appid)), ':s': String(NOW_S + 7200 - 900).padStart(12, '0') },
      }),
    );
    assert.deepEqual(
      due.Items?.filter((i) => i.pk === `AUTHORIZER#${appid}`).map((i) => i.sk),
      ['PROFILE'],
    );
    assert.equal((await rawItem(`AUTHORIZER#${appid}`, 'PROFILE'))?.nextRefreshAt, NOW_S + 7200 - 900);
    assert.equal((await rawItem(`AUTHORIZER#${appid}`, 'ACCESS_TOKEN'))?.gsi1pk, undefined);
  });

  it('expires only the token that failed', async () => {
    // Prepare
    const appid = nextAppId();
    await authorize(appid);
    // Act
    const wrong = await expireAuthorizerToken(depsAt(NOW_S), appid, 'someone-elses-token');
    const stillLive = await getAuthorizerToken(depsAt(NOW_S), appid);
    // Assess
    assert.equal(wrong, false);
    assert.equal(stillLive?.accessToken, 'authorizer-token-1');
  });

  it('makes the account due now when it expires the token that failed, so the next run refreshes it', async () => {
    // Prepare
    const appid = nextAppId();
    await authorize(appid);
    // Act
    const expired = await expireAuthorizerToken(depsAt(NOW_S + 30), appid, 'authorizer-token-1');
    // Assess
    assert.equal(expired, true);
    assert.equal((await rawItem(`AUTHORIZER#${appid}`, 'PROFILE'))?.nextRefreshAt, NOW_S + 30);
  });
});
