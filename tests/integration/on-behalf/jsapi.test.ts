// JS-SDK tickets and signatures (lib/on-behalf/jsapi.ts, and the `token` function's two requests) against
// DynamoDB Local and the WeChat simulator, which counts getticket calls and checks wx.config as WeChat would.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { Agent } from 'undici';
import { createHandler } from '../../../functions/token/handler.ts';
import { simulatorEnv, SIMULATOR_COMPONENT } from '../../../infra/local/credentials.ts';
import { startSimulator, type Simulator } from '../../../infra/local/simulator/index.ts';
import { nowSeconds, type Clock } from '../../../lib/kernel/clock.ts';
import { createMemoryLogger } from '../../../lib/kernel/logger.ts';
import { createMemoryMetrics } from '../../../lib/kernel/metrics.ts';
import { QuotaExceededError } from '../../../lib/on-behalf/errors.ts';
import { createJsapiConfig, getJsapiTicket, JSAPI_TICKET_MARGIN_S, jsapiTicketLease, type OnBehalfDeps } from '../../../lib/on-behalf/jsapi.ts';
import { loadConfig } from '../../../lib/runtime/config.ts';
import { createWeChatDeps } from '../../../lib/runtime/wechat-deps.ts';
import { markUnauthorized } from '../../../lib/store/authorizers.ts';
import { saveAuthorization } from '../../../lib/store/grants.ts';
import { getJsapiTicketState } from '../../../lib/store/jsapi-tickets.ts';
import { acquireLease } from '../../../lib/store/claims.ts';
import { saveVerifyTicket } from '../../../lib/store/tickets.ts';
import { getAuthorizerToken } from '../../../lib/store/tokens.ts';
import { AuthorizerNotFoundError, AuthorizerUnauthorizedError } from '../../../lib/tokens/errors.ts';
import { getAuthorizerAccessToken } from '../../../lib/tokens/authorizer-token.ts';
import { withComponentToken } from '../../../lib/tokens/component-token.ts';
import { createWeChatClient, type WeChatClient } from '../../../lib/wechat/client.ts';
import { createTestTable } from '../../helpers/dynamo.ts';

const COMPONENT = SIMULATOR_COMPONENT.appId;
let sim: Simulator;
let agent: Agent;
let wechat: WeChatClient;

before(async () => {
  sim = await startSimulator({ autoPush: false, ticketIntervalMs: 0 });
  agent = new Agent({ connections: 256 });
  wechat = createWeChatClient({ baseUrl: sim.url, logger: createMemoryLogger(), dispatcher: agent });
});
after(async () => {
  await agent.close();
  await sim.stop();
});

interface Setup {
  readonly deps: OnBehalfDeps;
  readonly logger: ReturnType<typeof createMemoryLogger>;
  readonly metrics: ReturnType<typeof createMemoryMetrics>;
  readonly appid: string;
  advance(seconds: number): void;
}

/** A fresh table with a ticket, the component token, and an official account authorized in the simulator (refresh token only). */
const setup = async (t: TestContext): Promise<Setup> => {
  const table = await createTestTable();
  t.after(() => table.close());
  let offsetMs = 0;
  const clock: Clock = () => Date.now() + offsetMs;
  const config = loadConfig({
    ...simulatorEnv(),
    TABLE_NAME: table.tableName,
    WECHAT_API_BASE_URL: sim.url,
    PUBLIC_BASE_URL: 'https://platform.example.test',
  });
  const logger = createMemoryLogger('debug');
  const metrics = createMemoryMetrics(clock);
  const deps = { ...createWeChatDeps(config, config.secrets!, { doc: table.doc, clock, logger, wechat }), metrics };
  await sim.pushTicket();
  await saveVerifyTicket(deps, { componentAppId: COMPONENT, ticket: sim.latestTicket()!, createTime: nowSeconds(clock) });
  const { authorizerAppid, authorizationCode } = await sim.authorize({ kind: 'official', push: false });
  const auth = await withComponentToken(deps, (token) => deps.wechat.apiQueryAuth(token, { componentAppId: COMPONENT, authorizationCode }));
  await saveAuthorization(deps, authorizerAppid, {
    refreshToken: auth.authorizerRefreshToken!,
    funcInfo: auth.funcInfo,
    authorizedAt: nowSeconds(clock) - 10,
  });
  sim.resetCounters();
  return { deps, logger, metrics, appid: authorizerAppid, advance: (seconds) => (offsetMs += seconds * 1000) };
};

const FAST_LEASE = { leaseMs: 400, maxWaitMs: 3_000, pollMinMs: 20, pollMaxMs: 100 };

describe('jsapi.getJsapiTicket', () => {
  it('calls getticket once for 100 concurrent callers and gives them all the same ticket, stored in the table', async (t) => {
    // Prepare
    const { deps, appid } = await setup(t);
    sim.setLatency(100, 'getticket');
    t.after(() => sim.setLatency(0, 'getticket'));
    // Act
    const tickets = await Promise.all(Array.from({ length: 100 }, () => getJsapiTicket(deps, appid)));
    // Assess
    assert.equal(sim.calls('getticket'), 1);
    assert.equal(sim.calls('api_authorizer_token'), 1, 'the account token too was fetched once');
    assert.equal(new Set(tickets.map((x) => x.ticket)).size, 1);
    assert.equal((await getJsapiTicketState(deps, appid)).ticket?.ticket, tickets[0]?.ticket);
  });

  it('serves the stored ticket without calling WeChat until the margin, then fetches one new ticket for everyone', async (t) => {
    // Prepare
    const { deps, appid, advance } = await setup(t);
    const first = await getJsapiTicket(deps, appid);
    advance(7200 - JSAPI_TICKET_MARGIN_S - 60);
    // Act
    const cached = await Promise.all(Array.from({ length: 20 }, () => getJsapiTicket(deps, appid)));
    advance(60);
    const renewed = await Promise.all(Array.from({ length: 20 }, () => getJsapiTicket(deps, appid)));
    // Assess
    assert.ok(cached.every((x) => x.ticket === first.ticket));
    assert.ok(renewed.every((x) => x.ticket === renewed[0]?.ticket && x.ticket !== first.ticket));
    assert.equal(sim.calls('getticket'), 2);
  });

  it('on 40001 expires the stored account token, refreshes it once and retries getticket once', async (t) => {
    // Prepare
    const { deps, appid } = await setup(t);
    const before = await getAuthorizerAccessToken(deps, appid);
    sim.expireAuthorizerToken(appid);
    sim.resetCounters();
    // Act
    const ticket = await getJsapiTicket(deps, appid);
    // Assess
    assert.ok(ticket.ticket);
    assert.deepEqual(
      sim.callLog.map((c) => [c.api, c.errcode]),
      [
        ['getticket', 40001],
        ['api_authorizer_token', 0],
        ['getticket', 0],
      ],
    );
    assert.notEqual((await getAuthorizerToken(deps, appid))?.accessToken, before.accessToken);
  });

  it('answers 45009 with QuotaExceededError for every waiting caller after a single call, counted once in the metric', async (t) => {
    // Prepare
    const { deps, appid, metrics, logger } = await setup(t);
    sim.setTicketQuotaExhausted(true, appid);
    t.after(() => sim.setTicketQuotaExhausted(false, appid));
    sim.setLatency(100, 'getticket');
    t.after(() => sim.setLatency(0, 'getticket'));
    // Act
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => getJsapiTicket(deps, appid)));
    // Assess
    assert.equal(sim.calls('getticket'), 1);
    assert.ok(results.every((r) => r.status === 'rejected' && r.reason instanceof QuotaExceededError && r.reason.errcode === 45009));
    assert.equal(metrics.sum('JsapiTicketFailed', { Errcode: '45009' }), 1);
    assert.ok(logger.records().some((r) => r.event === 'jsapi_ticket.refused' && r.errcode === 45009));
    assert.equal((await getJsapiTicketState(deps, appid)).ticket, undefined, 'nothing stored');
  });

  it('takes over from a crashed holder once its lease runs out, still with one getticket', async (t) => {
    // Prepare
    const { deps, appid } = await setup(t);
    await acquireLease(deps, jsapiTicketLease(appid), 'crashed-holder', FAST_LEASE.leaseMs);
    // Act
    const tickets = await Promise.all(Array.from({ length: 10 }, () => getJsapiTicket(deps, appid, FAST_LEASE)));
    // Assess
    assert.equal(new Set(tickets.map((x) => x.ticket)).size, 1);
    assert.equal(sim.calls('getticket'), 1);
  });

  it('refuses unknown and revoked accounts without calling WeChat, even with a ticket still stored', async (t) => {
    // Prepare
    const { deps, appid } = await setup(t);
    await getJsapiTicket(deps, appid);
    await markUnauthorized(deps, appid, nowSeconds(deps.clock));
    sim.resetCounters();
    // Act & Assess
    await assert.rejects(getJsapiTicket(deps, appid), AuthorizerUnauthorizedError);
    await assert.rejects(getJsapiTicket(deps, 'wx00000000000000aa'), AuthorizerNotFoundError);
    assert.equal(sim.calls(), 0);
  });
});

describe('jsapi.createJsapiConfig', () => {
  it('signs for the account appid over the page URL without its fragment, and WeChat accepts the wx.config', async (t) => {
    // Prepare
    const { deps, appid } = await setup(t);
    const url = 'https://h5.example.test/shop/item?id=42&from=menu#/detail';
    // Act
    const config = await createJsapiConfig(deps, appid, url);
    // Assess
    assert.equal(config.appId, appid);
    assert.equal(config.timestamp, nowSeconds(deps.clock));
    assert.match(config.nonceStr, /^[A-Za-z0-9]{16}$/);
    assert.equal(sim.acceptsJsConfig({ ...config, url }), true);
    assert.equal(sim.acceptsJsConfig({ ...config, url: 'https://h5.example.test/shop/item?id=43' }), false);
  });
});

describe('token function, JS-SDK requests', () => {
  it('answers the ticket and the signature, and 45009 as an {error} answer', async (t) => {
    // Prepare
    const { deps, appid } = await setup(t);
    const invoke = createHandler(deps);
    // Act
    const ticket = (await invoke({ authorizerAppid: appid, ticket: 'jsapi' })) as { ticket: string; expiresAt: number };
    const signed = (await invoke({ authorizerAppid: appid, jsapiSignature: { url: 'https://h5.example.test/a' } })) as Record<string, unknown>;
    const other = await setup(t);
    sim.setTicketQuotaExhausted(true, other.appid);
    t.after(() => sim.setTicketQuotaExhausted(false, other.appid));
    const refused = await createHandler(other.deps)({ authorizerAppid: other.appid, ticket: 'jsapi' });
    const bad = await invoke({ authorizerAppid: appid, jsapiSignature: { url: 'not a url' } });
    // Assess
    assert.deepEqual(Object.keys(ticket).sort(), ['expiresAt', 'ticket']);
    assert.ok(ticket.expiresAt > nowSeconds(deps.clock) + 7000);
    assert.deepEqual(Object.keys(signed).sort(), ['appId', 'nonceStr', 'signature', 'timestamp']);
    assert.equal(
      sim.acceptsJsConfig({
        ...(signed as { appId: string; timestamp: number; nonceStr: string; signature: string }),
        url: 'https://h5.example.test/a',
      }),
      true,
    );
    assert.equal((refused as { error: { type: string } }).error.type, 'quota_exceeded');
    assert.equal((bad as { error: { type: string } }).error.type, 'bad_request');
  });
});
