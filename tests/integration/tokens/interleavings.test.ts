// Regression tests for the token layer review (H1, L2, L3): interleavings of a refresh holder with the
// account owner and with other callers, against DynamoDB Local and the WeChat simulator.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { Agent } from 'undici';
import { SIMULATOR_COMPONENT } from '../../../infra/local/credentials.ts';
import { startSimulator, type Simulator } from '../../../infra/local/simulator/index.ts';
import { nowSeconds, sleep, type Clock } from '../../../lib/kernel/clock.ts';
import type { WeChatDeps } from '../../../lib/runtime/wechat-deps.ts';
import { COMPONENT_ACQUIRE_MS, FOLLOWER_MAX_WAIT_MS, WECHAT_CALL_BUDGET_MS } from '../../../lib/kernel/limits.ts';
import { createMemoryLogger } from '../../../lib/kernel/logger.ts';
import { AUTHORIZER_FLIGHT, getAuthorizerAccessToken } from '../../../lib/tokens/authorizer-token.ts';
import { COMPONENT_FLIGHT, getComponentAccessToken, TOKEN_MARGIN_S, withComponentToken } from '../../../lib/tokens/component-token.ts';
import { saveAuthorization } from '../../../lib/store/grants.ts';
import { getAuthorizer } from '../../../lib/store/authorizers.ts';
import { saveVerifyTicket } from '../../../lib/store/tickets.ts';
import { createWeChatClient, type WeChatClient } from '../../../lib/wechat/client.ts';
import { createTestTable } from '../../helpers/dynamo.ts';
import { worldWeChatDeps } from '../../helpers/world.ts';

const COMPONENT = SIMULATOR_COMPONENT.appId;
let agent: Agent;

before(() => {
  agent = new Agent({ connections: 256 });
});
after(async () => agent.close());

interface Setup {
  readonly sim: Simulator;
  readonly deps: WeChatDeps;
  advance(seconds: number): void;
}

/** A simulator of its own (token lifetime `tokenTtlS`), a fresh table, and a live ticket stored as the push would. */
const setup = async (t: TestContext, options: { tokenTtlS?: number } = {}): Promise<Setup> => {
  const sim = await startSimulator({ autoPush: false, ticketIntervalMs: 0, ...(options.tokenTtlS ? { tokenTtlS: options.tokenTtlS } : {}) });
  t.after(() => sim.stop());
  const table = await createTestTable();
  t.after(() => table.close());
  const wechat: WeChatClient = createWeChatClient({ baseUrl: sim.url, logger: createMemoryLogger(), dispatcher: agent });
  let offsetMs = 0;
  const clock: Clock = () => Date.now() + offsetMs;
  const deps = worldWeChatDeps(table, {
    wechatUrl: sim.url,
    publicBaseUrl: 'https://platform.example.test',
    clock,
    logger: createMemoryLogger('debug'),
    wechat,
  });
  await sim.pushTicket();
  await saveVerifyTicket(deps, { componentAppId: COMPONENT, ticket: sim.latestTicket()!, createTime: nowSeconds(clock) });
  sim.resetCounters();
  return { sim, deps, advance: (seconds) => (offsetMs += seconds * 1000) };
};

/** Stores the authorization behind `authorizationCode` the way the `authorized` consumer does (CreateTime = authorizedAt). */
const storeAuthorization = async (deps: WeChatDeps, authorizationCode: string, authorizedAt: number) => {
  const auth = await withComponentToken(deps, (token) => deps.wechat.apiQueryAuth(token, { componentAppId: COMPONENT, authorizationCode }));
  return saveAuthorization(deps, auth.authorizerAppid, { refreshToken: auth.authorizerRefreshToken!, funcInfo: auth.funcInfo, authorizedAt });
};

const authorize = async (s: Setup): Promise<string> => {
  const { authorizerAppid, authorizationCode } = await s.sim.authorize({ push: false });
  await storeAuthorization(s.deps, authorizationCode, nowSeconds(s.deps.clock) - 10);
  s.sim.resetCounters();
  return authorizerAppid;
};

const wechatRefreshToken = (sim: Simulator, appid: string) => sim.accounts().find((a) => a.appid === appid)?.refreshToken;

/**
 * Starts a refresh whose api_authorizer_token answer (61003) comes back only after `latencyMs`; `sent`
 * resolves once the holder has read the profile and sent the request (the real client, observed).
 */
const slowRevokedRefresh = (s: Setup, appid: string, latencyMs: number) => {
  s.sim.setLatency(latencyMs, 'api_authorizer_token');
  s.sim.inject({ api: 'api_authorizer_token', errcode: 61003, errmsg: 'function unauthorized' });
  let signal = () => {};
  const sent = new Promise<void>((resolve) => (signal = resolve));
  const wechat = s.deps.wechat;
  const observed: WeChatClient = {
    ...wechat,
    apiAuthorizerToken: (...args) => {
      signal();
      return wechat.apiAuthorizerToken(...args);
    },
  };
  const refresh = getAuthorizerAccessToken({ ...s.deps, wechat: observed }, appid);
  refresh.catch(() => undefined);
  return { refresh, sent };
};

/**
 * An authorized account whose refresh (answered 61003 after 1 s) is in flight while WeChat revokes it and the
 * account authorizes again: `authorizationCode` is the re-authorization's, not yet stored.
 */
const reauthorizedDuringRevokedRefresh = async (t: TestContext) => {
  const s = await setup(t);
  const appid = await authorize(s);
  const { refresh, sent } = slowRevokedRefresh(s, appid, 1000);
  await sent;
  await s.sim.unauthorize(appid, { push: false });
  const { authorizationCode } = await s.sim.authorize({ authorizerAppid: appid, push: false });
  return { s, appid, refresh, authorizationCode };
};

describe('tokens.getAuthorizerAccessToken and a revocation (61003) racing a re-authorization', () => {
  it('lets the re-authorization stored after the holder saw 61003 win: the account ends authorized with the new refresh token', async (t) => {
    // Prepare
    const { s, appid, refresh, authorizationCode } = await reauthorizedDuringRevokedRefresh(t);
    const reauthorizedAt = nowSeconds(s.deps.clock);
    await refresh.then(
      () => assert.fail('the holder got 61003'),
      () => undefined,
    );
    s.sim.setLatency(0, 'api_authorizer_token');
    // Act: the `authorized` push (CreateTime = the re-authorization) is processed after the holder's 61003.
    const saved = await storeAuthorization(s.deps, authorizationCode, reauthorizedAt);
    // Assess
    assert.equal(saved, 'saved');
    const profile = await getAuthorizer(s.deps, appid);
    assert.equal(profile?.status, 'authorized');
    assert.equal(profile?.refreshToken, wechatRefreshToken(s.sim, appid));
    assert.ok((await getAuthorizerAccessToken(s.deps, appid)).accessToken);
  });

  it('does not revoke an account whose re-authorization was stored while the rejected refresh token was in flight', async (t) => {
    // Prepare
    const { s, appid, refresh, authorizationCode } = await reauthorizedDuringRevokedRefresh(t);
    await storeAuthorization(s.deps, authorizationCode, nowSeconds(s.deps.clock));
    s.advance(2);
    // Act
    await assert.rejects(refresh);
    s.sim.setLatency(0, 'api_authorizer_token');
    // Assess
    const profile = await getAuthorizer(s.deps, appid);
    assert.equal(profile?.status, 'authorized');
    assert.equal(profile?.refreshToken, wechatRefreshToken(s.sim, appid));
    assert.ok((await getAuthorizerAccessToken(s.deps, appid)).accessToken);
  });
});

describe('tokens single flight with tokens that come back inside the margin', () => {
  it('calls api_component_token once for 100 concurrent callers although WeChat grants less than the margin', async (t) => {
    // Prepare
    const s = await setup(t, { tokenTtlS: TOKEN_MARGIN_S - 100 });
    s.sim.setLatency(100, 'api_component_token');
    // Act
    const tokens = await Promise.all(
      Array.from({ length: 100 }, () => getComponentAccessToken(s.deps, { ...COMPONENT_FLIGHT, pollMinMs: 20, pollMaxMs: 100 })),
    );
    // Assess
    assert.equal(s.sim.calls('api_component_token'), 1);
    assert.equal(new Set(tokens.map((token) => token.accessToken)).size, 1);
  });

  it('calls api_authorizer_token once for 100 concurrent callers although WeChat grants less than the margin', async (t) => {
    // Prepare
    const s = await setup(t, { tokenTtlS: TOKEN_MARGIN_S - 100 });
    const appid = await authorize(s);
    s.sim.setLatency(100, 'api_authorizer_token');
    // Act
    const tokens = await Promise.all(
      Array.from({ length: 100 }, () => getAuthorizerAccessToken(s.deps, appid, { ...AUTHORIZER_FLIGHT, pollMinMs: 20, pollMaxMs: 100 })),
    );
    // Assess
    assert.equal(s.sim.calls('api_authorizer_token'), 1);
    assert.equal(new Set(tokens.map((token) => token.accessToken)).size, 1);
  });
});

describe('tokens lease budgets', () => {
  it('keeps the lease through a 61023 recovery chain longer than one lease, so a waiting caller never calls WeChat again', async (t) => {
    // Prepare: current and previous refresh tokens unknown to WeChat → current, previous, list, listed: 4 calls of 250 ms.
    const s = await setup(t);
    const appid = await authorize(s);
    const now = nowSeconds(s.deps.clock);
    await saveAuthorization(s.deps, appid, { refreshToken: 'refreshtoken@@@lost-one', funcInfo: [1], authorizedAt: now - 5 });
    await saveAuthorization(s.deps, appid, { refreshToken: 'refreshtoken@@@lost-two', funcInfo: [1], authorizedAt: now });
    s.sim.setLatency(250, 'api_authorizer_token');
    s.sim.setLatency(250, 'api_get_authorizer_list');
    const options = { leaseMs: 400, maxWaitMs: 5_000, pollMinMs: 20, pollMaxMs: 50 };
    // Act
    const holder = getAuthorizerAccessToken(s.deps, appid, options);
    await sleep(50);
    const follower = getAuthorizerAccessToken(s.deps, appid, options);
    const [a, b] = await Promise.all([holder, follower]);
    // Assess
    assert.equal(a.accessToken, b.accessToken);
    assert.equal(s.sim.calls('api_authorizer_token'), 3);
    assert.equal(s.sim.calls('api_get_authorizer_list'), 1);
  });

  it('sizes each lease from the WeChat client budget, and lets followers answer busy inside the token function timeout', async () => {
    // Prepare
    const { readFile } = await import('node:fs/promises');
    const yml = await readFile(new URL('../../../serverless.yml', import.meta.url), 'utf8');
    const tokenTimeoutS = Number(/\n {2}token:\n(?: {4}.*\n)*? {4}timeout: (\d+)/.exec(yml)?.[1]);
    // Act
    const authorizerStep = COMPONENT_ACQUIRE_MS + WECHAT_CALL_BUDGET_MS;
    // Assess
    assert.equal(WECHAT_CALL_BUDGET_MS, 3 * 5_000 + 200 + 400);
    assert.ok(COMPONENT_FLIGHT.leaseMs > WECHAT_CALL_BUDGET_MS);
    assert.equal(COMPONENT_ACQUIRE_MS, FOLLOWER_MAX_WAIT_MS + COMPONENT_FLIGHT.leaseMs, 'a follower may wait, then take over and hold');
    assert.ok(AUTHORIZER_FLIGHT.leaseMs > authorizerStep, 'one step: the component token, then one call (renewed before each further call)');
    assert.ok(tokenTimeoutS * 1000 > FOLLOWER_MAX_WAIT_MS + AUTHORIZER_FLIGHT.leaseMs, `token timeout ${tokenTimeoutS} s`);
  });
});
