// Times are in 2030 so DynamoDB Local's real-time TTL sweeper never deletes an item a test reads back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { saveAuthorization, saveRefreshedToken, type NewAuthorization } from '../../../lib/store/grants.ts';
import {
  getAuthorizer,
  getAuthorizerState,
  listAuthorizers,
  markNeedsReauth,
  markUnauthorized,
  updateAuthorizerInfo,
} from '../../../lib/store/authorizers.ts';
import { getAuthorizerToken, StaleWriteError } from '../../../lib/store/tokens.ts';
import type { StoreDeps } from '../../../lib/store/keys.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { faultyDocumentClient, throttled } from '../../helpers/faults.ts';

const NOW_S = Date.parse('2030-01-01T00:00:00Z') / 1000;
let table: TestTable;
let deps: StoreDeps;
let n = 0;
const nextAppId = () => `wx${(0xa0710000000000n + BigInt((n += 1))).toString(16).padStart(16, '0')}`;
const info = { nickName: 'Test Account', userName: 'gh_0123456789ab', isMiniProgram: false };
const authorization = (overrides: Partial<NewAuthorization> = {}): NewAuthorization => ({
  accessToken: 'authorizer-token-A',
  expiresAt: NOW_S + 7200,
  refreshToken: 'refreshtoken@@@A',
  funcInfo: [1, 2, 15],
  info,
  authorizedAt: NOW_S - 10,
  ...overrides,
});

before(async () => {
  table = await createTestTable();
  deps = { doc: table.doc, tableName: table.tableName, clock: () => NOW_S * 1000 };
});
after(async () => table.close());

describe('authorizations.saveAuthorization', () => {
  it('stores profile and access token together, the profile without any TTL', async () => {
    // Prepare
    const appid = nextAppId();
    // Act
    const result = await saveAuthorization(deps, appid, authorization());
    // Assess
    assert.equal(result, 'saved');
    const { profile, token } = await getAuthorizerState(deps, appid, { consistent: true });
    assert.equal(profile?.status, 'authorized');
    assert.equal(profile?.refreshToken, 'refreshtoken@@@A');
    assert.deepEqual(profile?.funcInfo, [1, 2, 15]);
    assert.equal(profile?.info?.userName, 'gh_0123456789ab');
    assert.equal(token?.accessToken, 'authorizer-token-A');
    const raw = await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: `AUTHORIZER#${appid}`, sk: 'PROFILE' } }));
    assert.equal(raw.Item?.expiresAt, undefined);
  });

  it('keeps the old refresh token as previous when a newer authorization brings another', async () => {
    // Prepare
    const appid = nextAppId();
    await saveAuthorization(deps, appid, authorization());
    // Act
    const result = await saveAuthorization(
      deps,
      appid,
      authorization({ refreshToken: 'refreshtoken@@@B', accessToken: 'authorizer-token-B', authorizedAt: NOW_S }),
    );
    // Assess
    assert.equal(result, 'saved');
    const profile = await getAuthorizer(deps, appid);
    assert.equal(profile?.refreshToken, 'refreshtoken@@@B');
    assert.equal(profile?.previousRefreshToken, 'refreshtoken@@@A');
    assert.equal((await getAuthorizerToken(deps, appid))?.accessToken, 'authorizer-token-B');
  });

  it('ignores an older authorization arriving after a newer one', async () => {
    // Prepare
    const appid = nextAppId();
    await saveAuthorization(deps, appid, authorization({ refreshToken: 'refreshtoken@@@new', accessToken: 'token-new', authorizedAt: NOW_S }));
    // Act
    const result = await saveAuthorization(
      deps,
      appid,
      authorization({ refreshToken: 'refreshtoken@@@old', accessToken: 'token-old', authorizedAt: NOW_S - 600 }),
    );
    // Assess
    assert.equal(result, 'stale');
    assert.equal((await getAuthorizer(deps, appid))?.refreshToken, 'refreshtoken@@@new');
    assert.equal((await getAuthorizerToken(deps, appid))?.accessToken, 'token-new');
  });

  it('does not re-authorize an account with a replay of the authorization its unauthorized push revoked', async () => {
    // Prepare
    const appid = nextAppId();
    await saveAuthorization(deps, appid, authorization());
    await markUnauthorized(deps, appid, NOW_S);
    // Act
    const result = await saveAuthorization(deps, appid, authorization());
    // Assess
    assert.equal(result, 'stale');
    assert.equal((await getAuthorizer(deps, appid))?.status, 'unauthorized');
  });

  it('keeps a token refreshed after the authorization when the same authorization is stored again', async () => {
    // Prepare
    const appid = nextAppId();
    await saveAuthorization(deps, appid, authorization());
    await saveRefreshedToken(deps, appid, {
      accessToken: 'refreshed',
      expiresAt: NOW_S + 7300,
      refreshToken: 'refreshtoken@@@A',
      replaces: 'refreshtoken@@@A',
    });
    // Act
    const result = await saveAuthorization(deps, appid, authorization());
    // Assess
    assert.equal(result, 'saved');
    assert.equal((await getAuthorizerToken(deps, appid))?.accessToken, 'refreshed');
  });
});

describe('authorizations.saveRefreshedToken', () => {
  it('stores a rotated refresh token with the access token and keeps the one it replaces', async () => {
    // Prepare
    const appid = nextAppId();
    await saveAuthorization(deps, appid, authorization());
    // Act
    await saveRefreshedToken(deps, appid, {
      accessToken: 'token-2',
      expiresAt: NOW_S + 7300,
      refreshToken: 'refreshtoken@@@rotated',
      replaces: 'refreshtoken@@@A',
    });
    // Assess
    const { profile, token } = await getAuthorizerState(deps, appid, { consistent: true });
    assert.equal(profile?.refreshToken, 'refreshtoken@@@rotated');
    assert.equal(profile?.previousRefreshToken, 'refreshtoken@@@A');
    assert.equal(token?.accessToken, 'token-2');
  });

  it('refuses to overwrite a refresh token the profile no longer holds, writing nothing', async () => {
    // Prepare
    const appid = nextAppId();
    await saveAuthorization(deps, appid, authorization());
    await saveAuthorization(deps, appid, authorization({ refreshToken: 'refreshtoken@@@reauth', accessToken: 'token-reauth', authorizedAt: NOW_S }));
    // Act
    const late = saveRefreshedToken(deps, appid, {
      accessToken: 'token-late',
      expiresAt: NOW_S + 7400,
      refreshToken: 'refreshtoken@@@A',
      replaces: 'refreshtoken@@@A',
    });
    // Assess
    await assert.rejects(late, StaleWriteError);
    assert.equal((await getAuthorizer(deps, appid))?.refreshToken, 'refreshtoken@@@reauth');
    assert.equal((await getAuthorizerToken(deps, appid))?.accessToken, 'token-reauth');
  });

  it('still keeps a rotated refresh token when a newer access token is already stored', async () => {
    // Prepare
    const appid = nextAppId();
    await saveAuthorization(deps, appid, authorization({ expiresAt: NOW_S + 7300 }));
    // Act
    const late = saveRefreshedToken(deps, appid, {
      accessToken: 'older-token',
      expiresAt: NOW_S + 7200,
      refreshToken: 'refreshtoken@@@rotated',
      replaces: 'refreshtoken@@@A',
    });
    // Assess
    await assert.rejects(late, StaleWriteError);
    const { profile, token } = await getAuthorizerState(deps, appid, { consistent: true });
    assert.equal(profile?.refreshToken, 'refreshtoken@@@rotated');
    assert.equal(profile?.previousRefreshToken, 'refreshtoken@@@A');
    assert.equal(token?.accessToken, 'authorizer-token-A');
  });
});

describe('authorizations.saveRefreshedToken when the transaction fails for another reason', () => {
  const transactionConflict = () =>
    new TransactionCanceledException({
      $metadata: { httpStatusCode: 400 },
      message: 'injected: Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]',
      CancellationReasons: [{ Code: 'TransactionConflict' }, { Code: 'None' }],
    });

  for (const [name, error] of [
    ['a transaction conflict', transactionConflict],
    ['throttling', () => throttled()],
  ] as const) {
    it(`keeps a rotated refresh token and the access token after ${name} on the transaction`, async (t) => {
      // Prepare
      const appid = nextAppId();
      await saveAuthorization(deps, appid, authorization());
      const faulty = faultyDocumentClient(table.endpoint);
      t.after(() => faulty.close());
      const fault = faulty.inject({ match: (c) => c.command === 'TransactWriteItemsCommand', error });
      // Act
      await saveRefreshedToken({ ...deps, doc: faulty.doc }, appid, {
        accessToken: 'token-2',
        expiresAt: NOW_S + 7300,
        refreshToken: 'refreshtoken@@@rotated',
        replaces: 'refreshtoken@@@A',
      });
      // Assess
      assert.equal(fault.fired(), 1);
      const { profile, token } = await getAuthorizerState(deps, appid, { consistent: true });
      assert.equal(profile?.refreshToken, 'refreshtoken@@@rotated');
      assert.equal(profile?.previousRefreshToken, 'refreshtoken@@@A');
      assert.equal(token?.accessToken, 'token-2');
    });
  }

  it('keeps a rotated refresh token and restores the account when a concurrent 61023 chain marked it needs_reauth on the replaced token', async () => {
    // Prepare
    const appid = nextAppId();
    await saveAuthorization(deps, appid, authorization());
    await markNeedsReauth(deps, appid, 'refresh token rejected (61023)', { ifRefreshToken: 'refreshtoken@@@A' });
    // Act
    await saveRefreshedToken(deps, appid, {
      accessToken: 'token-2',
      expiresAt: NOW_S + 7300,
      refreshToken: 'refreshtoken@@@rotated',
      replaces: 'refreshtoken@@@A',
    });
    // Assess
    const profile = await getAuthorizer(deps, appid);
    assert.equal(profile?.status, 'authorized');
    assert.equal(profile?.refreshToken, 'refreshtoken@@@rotated');
    assert.equal(profile?.needsReauthReason, undefined);
  });

  it('rethrows the original failure, keeping the rotated refresh token, when the access token cannot be written either', async (t) => {
    // Prepare
    const appid = nextAppId();
    await saveAuthorization(deps, appid, authorization());
    const faulty = faultyDocumentClient(table.endpoint);
    t.after(() => faulty.close());
    faulty.inject({ match: (c) => c.command === 'TransactWriteItemsCommand', error: transactionConflict });
    faulty.inject({ match: (c) => c.command === 'PutItemCommand', error: () => throttled() });
    // Act
    const attempt = saveRefreshedToken({ ...deps, doc: faulty.doc }, appid, {
      accessToken: 'token-2',
      expiresAt: NOW_S + 7300,
      refreshToken: 'refreshtoken@@@rotated',
      replaces: 'refreshtoken@@@A',
    });
    // Assess
    await assert.rejects(attempt, TransactionCanceledException);
    const { profile, token } = await getAuthorizerState(deps, appid, { consistent: true });
    assert.equal(profile?.refreshToken, 'refreshtoken@@@rotated');
    assert.equal(token?.accessToken, 'authorizer-token-A');
  });

  it('leaves an unauthorized account unauthorized and untouched', async () => {
    // Prepare
    const appid = nextAppId();
    await saveAuthorization(deps, appid, authorization());
    await markUnauthorized(deps, appid, NOW_S);
    // Act
    const late = saveRefreshedToken(deps, appid, {
      accessToken: 'token-2',
      expiresAt: NOW_S + 7300,
      refreshToken: 'refreshtoken@@@rotated',
      replaces: 'refreshtoken@@@A',
    });
    // Assess
    await assert.rejects(late, StaleWriteError);
    const { profile, token } = await getAuthorizerState(deps, appid, { consistent: true });
    assert.equal(profile?.status, 'unauthorized');
    assert.equal(profile?.refreshToken, 'refreshtoken@@@A');
    assert.equal(token, undefined);
  });
});

describe('authorizers.markUnauthorized', () => {
  it('sets status unauthorized and deletes the access token, keeping the profile', async () => {
    // Prepare
    const appid = nextAppId();
    await saveAuthorization(deps, appid, authorization());
    // Act
    const result = await markUnauthorized(deps, appid, NOW_S);
    // Assess
    assert.equal(result, 'unauthorized');
    const { profile, token } = await getAuthorizerState(deps, appid, { consistent: true });
    assert.equal(profile?.status, 'unauthorized');
    assert.equal(profile?.unauthorizedAt, NOW_S);
    assert.equal(profile?.refreshToken, 'refreshtoken@@@A');
    assert.equal(token, undefined);
  });

  it('leaves a re-authorized account authorized when an older unauthorized arrives late', async () => {
    // Prepare
    const appid = nextAppId();
    await saveAuthorization(deps, appid, authorization({ authorizedAt: NOW_S - 100 }));
    await markUnauthorized(deps, appid, NOW_S - 50);
    await saveAuthorization(deps, appid, authorization({ refreshToken: 'refreshtoken@@@again', authorizedAt: NOW_S }));
    // Act
    const result = await markUnauthorized(deps, appid, NOW_S - 50);
    // Assess
    assert.equal(result, 'stale');
    const { profile, token } = await getAuthorizerState(deps, appid, { consistent: true });
    assert.equal(profile?.status, 'authorized');
    assert.equal(token?.accessToken, 'authorizer-token-A');
  });

  it('reports not_found for an account that never authorized', async () => {
    assert.equal(await markUnauthorized(deps, nextAppId(), NOW_S), 'not_found');
  });
});

describe('authorizers.markNeedsReauth', () => {
  it('marks the account only while it still holds the refresh token that failed', async () => {
    // Prepare
    const appid = nextAppId();
    await saveAuthorization(deps, appid, authorization());
    // Act
    const wrongToken = await markNeedsReauth(deps, appid, '61023', { ifRefreshToken: 'refreshtoken@@@other' });
    const marked = await markNeedsReauth(deps, appid, '61023', { ifRefreshToken: 'refreshtoken@@@A' });
    // Assess
    assert.equal(wrongToken, false);
    assert.equal(marked, true);
    const profile = await getAuthorizer(deps, appid);
    assert.equal(profile?.status, 'needs_reauth');
    assert.equal(profile?.needsReauthReason, '61023');
  });
});

describe('authorizers.updateAuthorizerInfo and listAuthorizers', () => {
  it('lists accounts page by page with status, names and token expiry but no tokens', async () => {
    // Prepare
    const appids = [nextAppId(), nextAppId(), nextAppId()];
    for (const appid of appids) await saveAuthorization(deps, appid, authorization({ info: undefined }));
    await updateAuthorizerInfo(deps, appids[0]!, { ...info, nickName: 'Renamed' }, [1, 2]);
    await markUnauthorized(deps, appids[1]!, NOW_S);
    // Act
    const all = [];
    let cursor: string | undefined;
    do {
      const page = await listAuthorizers(deps, { limit: 2, ...(cursor ? { cursor } : {}) });
      assert.ok(page.authorizers.length <= 2);
      all.push(...page.authorizers);
      cursor = page.cursor;
    } while (cursor);
    // Assess
    const rows = all.filter((r) => appids.includes(r.authorizerAppid));
    assert.deepEqual(
      rows.map((r) => r.authorizerAppid),
      appids,
    );
    assert.deepEqual(rows[0], {
      authorizerAppid: appids[0],
      status: 'authorized',
      nickName: 'Renamed',
      userName: info.userName,
      funcInfo: [1, 2],
      authorizedAt: NOW_S - 10,
      tokenExpiresAt: NOW_S + 7200,
    });
    assert.equal(rows[1]?.status, 'unauthorized');
    assert.equal(rows[1]?.tokenExpiresAt, undefined);
    assert.equal(JSON.stringify(all).includes('refreshtoken@@@'), false);
    assert.equal(JSON.stringify(all).includes('authorizer-token'), false);
  });

  it('reports false when updating the info of an unknown account', async () => {
    assert.equal(await updateAuthorizerInfo(deps, nextAppId(), info), false);
  });
});
