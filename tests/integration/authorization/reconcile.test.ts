// Reconcile against DynamoDB Local and the WeChat simulator: the table fell behind WeChat in every way it can
// (a push never arrived, a stale or rejected refresh token, a lost re-authorization, an account WeChat dropped),
// and one run of the comparison repairs it with one walk of api_get_authorizer_list.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Simulator } from '../../../infra/local/simulator/index.ts';
import { BadRequestError } from '../../../lib/kernel/errors.ts';
import { createMemoryMetrics } from '../../../lib/kernel/metrics.ts';
import type { WeChatDeps } from '../../../lib/runtime/wechat-deps.ts';
import { reconcile, reconcileAccount, runReconcile, type ReconcileSummary } from '../../../lib/authorization/reconcile.ts';
import { getAuthorizer, markNeedsReauth, markUnauthorized } from '../../../lib/store/authorizers.ts';
import { needsReauthEvents } from '../../../lib/events/authorizer-events.ts';
import { saveAuthorization } from '../../../lib/store/grants.ts';
import { dueEverywhere } from '../../helpers/schedule.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { simulatorDeps } from '../../helpers/given.ts';

let table: TestTable;
let sim: Simulator;
let deps: WeChatDeps & { metrics: ReturnType<typeof createMemoryMetrics> };
const nowS = () => Math.floor(Date.now() / 1000);
const simToken = (appid: string) => sim.accounts().find((a) => a.appid === appid)?.refreshToken;
const store = (appid: string, refreshToken: string, authorizedAt = nowS() - 600) =>
  saveAuthorization(deps, appid, { refreshToken, funcInfo: [1], authorizedAt, accessToken: `at-${appid}`, expiresAt: nowS() + 7000 });
const outbox = async () =>
  ((await table.doc.send(new ScanCommand({ TableName: table.tableName }))).Items ?? []).filter((i) => String(i.pk).startsWith('OUTBOX#'));

const accounts: Record<string, string> = {};
let first: ReconcileSummary;

before(async () => {
  table = await createTestTable();
  const world = await simulatorDeps(table, 'https://platform.example.test');
  sim = world.sim;
  deps = { ...world.deps, metrics: createMemoryMetrics() };
  // 1. authorized at WeChat, its push never arrived: no profile.
  accounts.missing = (await sim.authorize({ push: false })).authorizerAppid;
  // 2. needs_reauth here, while WeChat lists a refresh token that works.
  accounts.stuck = (await sim.authorize({ push: false })).authorizerAppid;
  await store(accounts.stuck, 'refreshtoken@@@rejected-one');
  // As the 61023 chain does (lib/tokens/authorizer-refresh.ts): the event rides on the status change.
  const stuck = await getAuthorizer(deps, accounts.stuck);
  const reason = 'refresh token rejected (61023)';
  await markNeedsReauth(deps, accounts.stuck, reason, { events: stuck ? needsReauthEvents(deps, stuck, reason) : [] });
  // 3. authorized here with a stale refresh token.
  accounts.stale = (await sim.authorize({ push: false })).authorizerAppid;
  await store(accounts.stale, 'refreshtoken@@@stale-one');
  // 4. authorized here, unknown to WeChat.
  accounts.unlisted = 'wx00000000c0ffee01';
  await store(accounts.unlisted, 'refreshtoken@@@unlisted');
  // 5. revoked here, then authorized again at WeChat whose push was lost.
  accounts.back = (await sim.authorize({ push: false })).authorizerAppid;
  await store(accounts.back, simToken(accounts.back)!, nowS() - 900);
  await markUnauthorized(deps, accounts.back, nowS() - 800);
  // 6. in step already.
  accounts.fine = (await sim.authorize({ push: false })).authorizerAppid;
  await store(accounts.fine, simToken(accounts.fine)!);
  sim.resetCounters();
  first = await runReconcile(deps);
});
after(async () => {
  await sim.stop();
  await table.close();
});

describe('reconcile.runReconcile', () => {
  it('walks api_get_authorizer_list once and reports what it found', () => {
    assert.equal(sim.calls('api_get_authorizer_list'), 1);
    assert.deepEqual(first, {
      listed: 5,
      profiles: 6,
      recovered: 3,
      refreshTokensUpdated: 1,
      unlisted: 1,
      unchanged: 1,
      failed: 0,
      complete: true,
    });
    assert.equal(deps.metrics.sum('ReconcileRecovered'), 4);
    assert.equal(deps.metrics.sum('ReconcileUnlisted'), 1);
  });

  it('stores an account whose push never arrived, with its refresh token and info, due for a token now', async () => {
    const profile = await getAuthorizer(deps, accounts.missing!);
    assert.equal(profile?.status, 'authorized');
    assert.equal(profile?.refreshToken, simToken(accounts.missing!));
    assert.ok(profile?.info?.nickName);
    assert.ok((await dueEverywhere(deps, nowS())).includes(accounts.missing!));
  });

  it('brings back a needs_reauth account with the listed refresh token, keeps the old one, and reports Authorizer Recovered', async () => {
    const profile = await getAuthorizer(deps, accounts.stuck!);
    assert.deepEqual(
      [profile?.status, profile?.refreshToken, profile?.previousRefreshToken, profile?.needsReauthReason],
      ['authorized', simToken(accounts.stuck!), 'refreshtoken@@@rejected-one', undefined],
    );
    assert.ok((await dueEverywhere(deps, nowS())).includes(accounts.stuck!));
    const events = (await outbox()).filter((i) => (i.detail as { authorizerAppid?: string }).authorizerAppid === accounts.stuck);
    assert.deepEqual(events.map((e) => e.detailType).sort(), ['Authorizer Needs Reauthorization', 'Authorizer Recovered']);
    assert.ok(
      events.every((e) => !JSON.stringify(e.detail).includes('refreshtoken@@@')),
      'no token in an event',
    );
  });

  it('replaces a stale refresh token of an authorized account and keeps the stale one as previous', async () => {
    const profile = await getAuthorizer(deps, accounts.stale!);
    assert.deepEqual([profile?.refreshToken, profile?.previousRefreshToken], [simToken(accounts.stale!), 'refreshtoken@@@stale-one']);
  });

  it('stores the re-authorization whose push was lost, newer than the revocation it follows', async () => {
    assert.equal((await getAuthorizer(deps, accounts.back!))?.status, 'authorized');
  });

  it('flags an authorized profile WeChat no longer lists, without revoking it', async () => {
    const profile = await getAuthorizer(deps, accounts.unlisted!);
    assert.equal(profile?.status, 'authorized');
    assert.equal(typeof profile?.unlistedAt, 'number');
  });

  it('finds nothing more to do on a second run', async () => {
    // Act
    const second = await runReconcile(deps);
    // Assess
    assert.deepEqual([second.recovered, second.refreshTokensUpdated, second.unchanged, second.unlisted], [0, 0, 5, 1]);
  });

  it('is the reconcile admin action, which takes no fields', async () => {
    await assert.rejects(reconcile(deps, { all: true }), BadRequestError);
    assert.equal((await reconcile(deps, {})).complete, true);
  });
});

describe('reconcile.reconcileAccount (a reconcile request from the message URL)', () => {
  it('stores an account WeChat holds as authorized and the table does not know', async () => {
    // Prepare
    const { authorizerAppid } = await sim.authorize({ push: false });
    const asked = sim.calls('api_get_authorizer_info');
    // Act
    const outcome = await reconcileAccount(deps, authorizerAppid);
    // Assess
    assert.equal(outcome, 'recovered');
    assert.equal((await getAuthorizer(deps, authorizerAppid))?.refreshToken, simToken(authorizerAppid));
    assert.equal(sim.calls('api_get_authorizer_info') - asked, 1, 'WeChat asked once: its answer both decides and is stored');
  });

  it('revokes an account WeChat no longer holds (61003) whose unauthorized push was lost', async () => {
    // Prepare
    const { authorizerAppid } = await sim.authorize({ push: false });
    await store(authorizerAppid, simToken(authorizerAppid)!);
    await sim.unauthorize(authorizerAppid, { push: false });
    // Act
    const outcome = await reconcileAccount(deps, authorizerAppid);
    // Assess
    assert.equal(outcome, 'revoked');
    assert.equal((await getAuthorizer(deps, authorizerAppid))?.status, 'unauthorized');
  });

  it('changes nothing for an account WeChat and the table agree on', async () => {
    assert.equal(await reconcileAccount(deps, accounts.fine!), 'unchanged');
    assert.equal(await reconcileAccount(deps, 'wx00000000c0ffee99'), 'unchanged');
  });
});
