// The API-text release check's second half against DynamoDB Local and the WeChat simulator.
import assert from 'node:assert/strict';
import { getComponentAccessToken } from '../../../lib/tokens/component-token.ts';
import { after, before, beforeEach, describe, it } from 'node:test';
import { SIMULATOR_COMPONENT } from '../../../infra/local/credentials.ts';
import type { Simulator } from '../../../infra/local/simulator/index.ts';
import type { WeChatDeps } from '../../../lib/runtime/wechat-deps.ts';
import type { createMemoryLogger } from '../../../lib/kernel/logger.ts';
import { AuthorizationCodeError } from '../../../lib/authorization/exchange.ts';
import { applyAuthorizationPush } from '../../../lib/authorization/pushes.ts';
import { PermanentEventError } from '../../../lib/stream/dispatch.ts';
import { handleReleaseTestTask } from '../../../lib/release-test/task.ts';
import { eventId, type StoredEvent } from '../../../lib/store/events.ts';
import { getAuthorizer } from '../../../lib/store/authorizers.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { simulatorDeps } from '../../helpers/given.ts';

const OPENID = 'ozy4qt1eDxSxzCr0aNT0mXCWfrDE';
let table: TestTable;
let sim: Simulator;
let deps: WeChatDeps;
let logger: ReturnType<typeof createMemoryLogger>;
const nowS = () => Math.floor(Date.now() / 1000);

const stored = (
  kind: 'component_push' | 'release_test_task',
  infoType: string,
  authorizerAppid: string,
  payload: Record<string, string>,
): StoredEvent => {
  const event = { kind, infoType, componentAppId: SIMULATOR_COMPONENT.appId, authorizerAppid, createTime: nowS(), payload };
  return { ...event, id: eventId(event), receivedAt: nowS() };
};
const task = (authorizerAppid: string, queryAuthCode: string, toUser = OPENID) =>
  stored('release_test_task', 'query_auth_code', authorizerAppid, { authorizerAppid, toUser, queryAuthCode });

before(async () => {
  table = await createTestTable();
  ({ sim, deps, logger } = await simulatorDeps(table, 'https://platform.example.test'));
});
after(async () => {
  await sim.stop();
  await table.close();
});
beforeEach(() => sim.resetCounters());

describe('releaseTestTask.handleReleaseTestTask', () => {
  it('sends <code>_from_api with the account token, reusing the exchange of the authorization push (one api_query_auth)', async () => {
    // Prepare
    const appid = 'wx570bc396a51b8ff8';
    const { authorizationCode } = await sim.authorize({ authorizerAppid: appid, userName: 'gh_3c884a361561', push: false, withPreAuthCode: false });
    await applyAuthorizationPush(
      deps,
      stored('component_push', 'authorized', appid, { AuthorizerAppid: appid, AuthorizationCode: authorizationCode }),
    );
    // Act
    await handleReleaseTestTask(deps, task(appid, authorizationCode));
    // Assess
    const sent = sim.customerMessages().filter((m) => m.authorizerAppid === appid);
    assert.deepEqual(
      sent.map((m) => ({ toUser: m.toUser, content: m.content })),
      [{ toUser: OPENID, content: `${authorizationCode}_from_api` }],
    );
    assert.equal(sim.calls('api_query_auth'), 1);
    assert.ok(!logger.lines.join('\n').includes(authorizationCode.slice(16)), 'the code reached a log line');
  });

  it('exchanges a code nobody exchanged yet, once, however often the task is delivered', async () => {
    // Prepare
    const appid = 'wxd101a85aa106f53e';
    const { authorizationCode } = await sim.authorize({ authorizerAppid: appid, userName: 'gh_8dad206e9538', kind: 'miniprogram', push: false });
    // Act
    await handleReleaseTestTask(deps, task(appid, authorizationCode));
    await handleReleaseTestTask(deps, task(appid, authorizationCode));
    // Assess
    assert.equal(sim.calls('api_query_auth'), 1);
    assert.ok(sim.customerMessages().some((m) => m.authorizerAppid === appid && m.content === `${authorizationCode}_from_api`));
  });

  it('stores the authorization of a code no push ever carries: profile with its refresh token, message sent once', async () => {
    // Prepare
    const appid = 'wx2c3d4e5f60718293';
    const { authorizationCode } = await sim.authorize({ authorizerAppid: appid, userName: 'gh_1f2e3d4c5b6a', push: false });
    // Act
    await handleReleaseTestTask(deps, task(appid, authorizationCode));
    // Assess
    const profile = await getAuthorizer(deps, appid);
    assert.equal(profile?.status, 'authorized');
    assert.equal(profile?.refreshToken, sim.accounts().find((a) => a.appid === appid)?.refreshToken);
    assert.equal(sim.customerMessages().filter((m) => m.authorizerAppid === appid && m.content === `${authorizationCode}_from_api`).length, 1);
    assert.equal(sim.calls('api_query_auth'), 1);
  });

  it('sends the API text right after the exchange, before any other WeChat call, and fetches the account info after it', async () => {
    // Prepare
    const appid = 'wx3d4e5f6071829304';
    const { authorizationCode } = await sim.authorize({ authorizerAppid: appid, userName: 'gh_2f3e4d5c6b7a', push: false });
    await getComponentAccessToken(deps);
    sim.resetCounters();
    // Act
    await handleReleaseTestTask(deps, task(appid, authorizationCode));
    // Assess
    assert.deepEqual(
      sim.callLog.map((c) => c.api),
      ['api_query_auth', 'message_custom_send', 'api_get_authorizer_info'],
    );
    const profile = await getAuthorizer(deps, appid);
    assert.equal(profile?.status, 'authorized');
    assert.ok(profile?.info?.nickName);
  });

  it("falls back to the account's stored token, refreshed once, when WeChat rejects the exchange's token", async () => {
    // Prepare
    const appid = 'wxa35b9c23cfe664eb';
    const { authorizationCode } = await sim.authorize({ authorizerAppid: appid, userName: 'gh_2b3713f184a6', push: false, withPreAuthCode: false });
    await applyAuthorizationPush(
      deps,
      stored('component_push', 'authorized', appid, { AuthorizerAppid: appid, AuthorizationCode: authorizationCode }),
    );
    sim.expireAuthorizerToken(appid);
    sim.resetCounters();
    // Act
    await handleReleaseTestTask(deps, task(appid, authorizationCode));
    // Assess
    assert.ok(sim.customerMessages().some((m) => m.authorizerAppid === appid && m.content === `${authorizationCode}_from_api`));
    assert.equal(sim.calls('api_query_auth'), 0);
    assert.equal(sim.calls('api_authorizer_token'), 1);
    assert.ok(
      logger.lines.some((l) => l.includes('release_test.api_text.stored_token') && l.includes('exchange_token_rejected')),
      logger.lines.filter((l) => l.includes('release_test')).join('\n'),
    );
  });

  it('refuses, for good, a code that belongs to another account and sends nothing', async () => {
    // Prepare
    const { authorizationCode } = await sim.authorize({ authorizerAppid: 'wx9252c5e0bb1836fc', push: false });
    const before = sim.customerMessages().length;
    // Act / Assess
    await assert.rejects(handleReleaseTestTask(deps, task('wx8e1097c5bc82cde9', authorizationCode)), PermanentEventError);
    assert.equal(sim.customerMessages().length, before);
  });

  it('fails for good on a code WeChat refuses (61009) and sends nothing', async () => {
    // Prepare
    const before = sim.customerMessages().length;
    // Act / Assess
    await assert.rejects(
      handleReleaseTestTask(deps, task('wx14550af28c71a144', 'queryauthcode@@@never-issued')),
      (e: unknown) => e instanceof PermanentEventError && e.cause instanceof AuthorizationCodeError && e.cause.errcode === 61009,
    );
    assert.equal(sim.customerMessages().length, before);
  });

  it('drops a task without its payload fields or of an unknown type as permanent', async () => {
    // Act / Assess
    await assert.rejects(handleReleaseTestTask(deps, task('wx14550af28c71a144', '')), PermanentEventError);
    const other = stored('release_test_task', 'something_else', 'wx14550af28c71a144', {
      authorizerAppid: 'wx14550af28c71a144',
      toUser: OPENID,
      queryAuthCode: 'x',
    });
    await assert.rejects(handleReleaseTestTask(deps, other), PermanentEventError);
    assert.equal(sim.calls(), 0);
  });
});
