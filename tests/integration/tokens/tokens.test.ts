// The token service against DynamoDB Local and the WeChat simulator (a real HTTP server on 127.0.0.1 that
// counts calls). Each test gets its own table, so the component token starts absent every time.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it, type TestContext } from 'node:test';
import { Agent } from 'undici';
import { SIMULATOR_COMPONENT } from '../../../infra/local/credentials.ts';
import { startSimulator, type Simulator } from '../../../infra/local/simulator/index.ts';
import { nowSeconds, type Clock } from '../../../lib/kernel/clock.ts';
import type { WeChatDeps } from '../../../lib/runtime/wechat-deps.ts';
import { createMemoryLogger } from '../../../lib/kernel/logger.ts';
import {
  AuthorizerNotFoundError,
  AuthorizerUnauthorizedError,
  MissingTicketError,
  NeedsReauthError,
  TicketInvalidError,
  TokenBusyError,
} from '../../../lib/tokens/errors.ts';
import { authorizerLease, getAuthorizerAccessToken, refreshAuthorizerTokenIfDue, withAuthorizerToken } from '../../../lib/tokens/authorizer-token.ts';
import {
  componentLease,
  getComponentAccessToken,
  refreshComponentTokenIfDue,
  TOKEN_MARGIN_S,
  withComponentToken,
} from '../../../lib/tokens/component-token.ts';
import { saveAuthorization } from '../../../lib/store/grants.ts';
import { getAuthorizer, markUnauthorized } from '../../../lib/store/authorizers.ts';
import { acquireLease, releaseLease } from '../../../lib/store/claims.ts';
import { saveVerifyTicket } from '../../../lib/store/tickets.ts';
import { getComponentToken, putComponentToken } from '../../../lib/store/tokens.ts';
import { createWeChatClient, type WeChatClient } from '../../../lib/wechat/client.ts';
import { WeChatApiError } from '../../../lib/wechat/errors.ts';
import { createTestTable } from '../../helpers/dynamo.ts';
import { faultyDocumentClient, type FaultyDocumentClient } from '../../helpers/faults.ts';
import { worldWeChatDeps } from '../../helpers/world.ts';

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
  readonly deps: WeChatDeps;
  readonly logger: ReturnType<typeof createMemoryLogger>;
  /** Moves the service's clock (the simulator keeps real time). */
  advance(seconds: number): void;
  /** DynamoDB requests sent through deps.doc so far. */
  requests(): number;
  /** With `faulty: true`: deps.doc is this fault-injecting client. */
  faults?: FaultyDocumentClient;
}

/** A fresh table, deps on the simulator, and (unless `ticket: false`) a live ticket stored as the push would. */
const setup = async (t: TestContext, options: { ticket?: boolean; faulty?: boolean } = {}): Promise<Setup> => {
  const table = await createTestTable();
  t.after(() => table.close());
  const faults = options.faulty ? faultyDocumentClient(table.endpoint) : undefined;
  if (faults) t.after(() => faults.close());
  let requests = 0;
  table.doc.middlewareStack.add(
    (next) => async (args) => {
      requests += 1;
      return next(args);
    },
    { step: 'initialize' },
  );
  let offsetMs = 0;
  const clock: Clock = () => Date.now() + offsetMs;
  const logger = createMemoryLogger('debug');
  const deps = worldWeChatDeps(table, {
    wechatUrl: sim.url,
    publicBaseUrl: 'https://platform.example.test',
    clock,
    logger,
    wechat,
    ...(faults ? { doc: faults.doc } : {}),
  });
  if (options.ticket !== false) {
    await sim.pushTicket();
    await saveVerifyTicket(deps, { componentAppId: COMPONENT, ticket: sim.latestTicket()!, createTime: nowSeconds(clock) });
  }
  sim.resetCounters();
  return { deps, logger, advance: (seconds) => (offsetMs += seconds * 1000), requests: () => requests, ...(faults ? { faults } : {}) };
};

const FAST_LEASE = { leaseMs: 400, maxWaitMs: 3_000, pollMinMs: 20, pollMaxMs: 100 };

describe('tokens.getComponentAccessToken', () => {
  it('calls api_component_token once for 100 concurrent callers and gives them all the same token', async (t) => {
    // Prepare
    const { deps, requests } = await setup(t);
    sim.setLatency(100, 'api_component_token');
    t.after(() => sim.setLatency(0, 'api_component_token'));
    const requestsBefore = requests();
    // Act
    const started = performance.now();
    const doneMs: number[] = [];
    const tokens = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const token = await getComponentAccessToken(deps);
        doneMs.push(performance.now() - started);
        return token;
      }),
    );
    // Assess
    t.diagnostic(
      `100 concurrent callers, 100 ms WeChat latency: first ${doneMs[0]?.toFixed(0)} ms, median ${doneMs[50]?.toFixed(0)} ms, last ${doneMs[99]?.toFixed(0)} ms`,
    );
    t.diagnostic(`DynamoDB requests: ${requests() - requestsBefore} for 100 callers`);
    assert.equal(sim.calls('api_component_token'), 1);
    assert.equal(new Set(tokens.map((token) => token.accessToken)).size, 1);
    assert.equal((await getComponentToken(deps, COMPONENT))?.accessToken, tokens[0]?.accessToken);
  });

  it('returns the stored token without calling WeChat while more than the margin is left', async (t) => {
    // Prepare
    const { deps, advance, requests } = await setup(t);
    const first = await getComponentAccessToken(deps);
    advance(7200 - TOKEN_MARGIN_S - 60);
    const requestsBefore = requests();
    // Act
    const second = await getComponentAccessToken(deps);
    // Assess
    assert.equal(second.accessToken, first.accessToken);
    assert.equal(sim.calls('api_component_token'), 1);
    assert.equal(requests() - requestsBefore, 1, 'a cache hit is a single read');
  });

  it('refreshes once the margin is reached, although the old item is still stored', async (t) => {
    // Prepare
    const { deps, advance } = await setup(t);
    const first = await getComponentAccessToken(deps);
    advance(7200 - TOKEN_MARGIN_S);
    // Act
    const second = await getComponentAccessToken(deps);
    // Assess
    assert.notEqual(second.accessToken, first.accessToken);
    assert.equal(sim.calls('api_component_token'), 2);
  });

  it("takes over the refresh after a crashed holder's lease runs out", async (t) => {
    // Prepare
    const { deps, logger } = await setup(t);
    await acquireLease(deps, componentLease(COMPONENT), 'crashed-holder', FAST_LEASE.leaseMs);
    // Act
    const started = performance.now();
    const token = await getComponentAccessToken(deps, FAST_LEASE);
    const waitedMs = performance.now() - started;
    // Assess
    t.diagnostic(`took over after ${waitedMs.toFixed(0)} ms (lease ${FAST_LEASE.leaseMs} ms)`);
    assert.ok(token.accessToken);
    assert.ok(waitedMs >= FAST_LEASE.leaseMs - 50, `waited only ${waitedMs} ms`);
    assert.equal(sim.calls('api_component_token'), 1);
    assert.ok(logger.records().some((r) => r.event === 'lease.taken_over'));
  });

  it('gives up with TokenBusyError, without calling WeChat, while another holder keeps the lease past the wait', async (t) => {
    // Prepare
    const { deps } = await setup(t);
    await acquireLease(deps, componentLease(COMPONENT), 'slow-holder', 60_000);
    // Act
    const attempt = getComponentAccessToken(deps, { ...FAST_LEASE, maxWaitMs: 300 });
    // Assess
    await assert.rejects(attempt, (e: unknown) => e instanceof TokenBusyError && e.type === 'busy');
    assert.equal(sim.calls(), 0);
  });

  it('refreshes at once when its lease write landed but the answer was lost, instead of waiting on its own lease', async (t) => {
    // Prepare: the lease Put is applied, then a reset socket loses its answer and the SDK sends it again.
    const { deps, faults } = await setup(t, { faulty: true });
    const lost = faults!.inject({
      where: 'answer-lost',
      match: (c) => c.command === 'PutItemCommand' && c.pks.some((pk) => pk.startsWith('LEASE#')),
    });
    // Act: a wait far shorter than the lease, so waiting on its own lease would end in TokenBusyError.
    const token = await getComponentAccessToken(deps, { ...FAST_LEASE, leaseMs: 60_000, maxWaitMs: 300 });
    // Assess
    assert.equal(lost.fired(), 1);
    assert.equal(sim.calls('api_component_token'), 1);
    assert.equal((await getComponentToken(deps, COMPONENT, { consistent: true }))?.accessToken, token.accessToken);
  });

  it('throws MissingTicketError telling the operator what to do, without calling WeChat', async (t) => {
    // Prepare
    const { deps } = await setup(t, { ticket: false });
    // Act
    const attempt = getComponentAccessToken(deps);
    // Assess
    await assert.rejects(attempt, (e: unknown) => e instanceof MissingTicketError && /api_start_push_ticket/.test(e.message));
    assert.equal(sim.calls(), 0);
  });

  it("hands the holder's TicketInvalidError to every waiting caller after a single call", async (t) => {
    // Prepare
    const { deps } = await setup(t);
    sim.inject({ api: 'api_component_token', errcode: 61006, times: 1 });
    sim.setLatency(100, 'api_component_token');
    t.after(() => sim.setLatency(0, 'api_component_token'));
    // Act
    const results = await Promise.allSettled(Array.from({ length: 100 }, () => getComponentAccessToken(deps)));
    // Assess
    assert.equal(sim.calls('api_component_token'), 1);
    assert.ok(results.every((r) => r.status === 'rejected' && r.reason instanceof TicketInvalidError));
  });
});

describe('tokens.withComponentToken', () => {
  it('expires the token WeChat rejected, fetches one new token and retries once', async (t) => {
    // Prepare
    const { deps } = await setup(t);
    const rejected = await getComponentAccessToken(deps);
    sim.expireComponentTokens();
    sim.resetCounters();
    // Act
    const { preAuthCode } = await withComponentToken(deps, (token) => deps.wechat.apiCreatePreauthcode(token, { componentAppId: COMPONENT }));
    // Assess
    assert.ok(preAuthCode);
    assert.equal(sim.calls('api_create_preauthcode'), 2);
    assert.equal(sim.calls('api_component_token'), 1);
    assert.notEqual((await getComponentToken(deps, COMPONENT))?.accessToken, rejected.accessToken);
  });

  it('leaves a newer token stored meanwhile by another caller unexpired, and retries with it', async (t) => {
    // Prepare
    const { deps } = await setup(t);
    const old = await getComponentAccessToken(deps);
    const seen: string[] = [];
    // Act
    const result = await withComponentToken(deps, async (token) => {
      seen.push(token);
      if (seen.length === 1) {
        await putComponentToken(deps, COMPONENT, { accessToken: 'newer-token-from-another-caller', expiresAt: old.expiresAt + 60 });
        throw new WeChatApiError('component/api_create_preauthcode', 40001, 'invalid credential');
      }
      return 'done';
    });
    // Assess
    assert.equal(result, 'done');
    assert.deepEqual(seen, [old.accessToken, 'newer-token-from-another-caller']);
    assert.equal((await getComponentToken(deps, COMPONENT, { consistent: true }))?.accessToken, 'newer-token-from-another-caller');
    assert.equal(sim.calls('api_component_token'), 1);
  });

  it('retries only once when the fresh token is rejected too', async (t) => {
    // Prepare
    const { deps } = await setup(t);
    let calls = 0;
    // Act
    const attempt = withComponentToken(deps, async () => {
      calls += 1;
      throw new WeChatApiError('component/api_create_preauthcode', 42001, 'access_token expired');
    });
    // Assess
    await assert.rejects(attempt, (e: unknown) => e instanceof WeChatApiError && e.errcode === 42001);
    assert.equal(calls, 2);
  });
});

/** Plays an owner authorizing in the simulator and stores the result as the lifecycle would. */
const authorizeInSim = async (deps: WeChatDeps, options: { withToken?: boolean } = {}): Promise<string> => {
  const { authorizerAppid, authorizationCode } = await sim.authorize({ push: false });
  const auth = await withComponentToken(deps, (token) => deps.wechat.apiQueryAuth(token, { componentAppId: COMPONENT, authorizationCode }));
  const now = nowSeconds(deps.clock);
  await saveAuthorization(deps, authorizerAppid, {
    ...(options.withToken ? { accessToken: auth.authorizerAccessToken!, expiresAt: now + auth.expiresIn! } : {}),
    refreshToken: auth.authorizerRefreshToken!,
    funcInfo: auth.funcInfo,
    authorizedAt: now - 10,
  });
  sim.resetCounters();
  return authorizerAppid;
};

/** The refresh token WeChat (the simulator) currently holds for the account. */
const wechatRefreshToken = (appid: string): string | undefined => sim.accounts().find((a) => a.appid === appid)?.refreshToken;

/** Stores another authorization with a refresh token WeChat never issued (a corrupted or superseded copy). */
const storeUnknownRefreshToken = async (deps: WeChatDeps, appid: string, refreshToken: string, authorizedAt: number) => {
  const profile = await getAuthorizer(deps, appid);
  await saveAuthorization(deps, appid, { refreshToken, funcInfo: profile!.funcInfo, authorizedAt });
};

describe('tokens.getAuthorizerAccessToken', () => {
  it('calls api_authorizer_token once for 100 concurrent callers and gives them all the same token', async (t) => {
    // Prepare
    const { deps, requests } = await setup(t);
    const appid = await authorizeInSim(deps);
    sim.setLatency(100, 'api_authorizer_token');
    t.after(() => sim.setLatency(0, 'api_authorizer_token'));
    const requestsBefore = requests();
    // Act
    const started = performance.now();
    const tokens = await Promise.all(Array.from({ length: 100 }, () => getAuthorizerAccessToken(deps, appid)));
    // Assess
    t.diagnostic(
      `100 concurrent callers for one account: ${(performance.now() - started).toFixed(0)} ms wall, ${requests() - requestsBefore} DynamoDB requests`,
    );
    assert.equal(sim.calls('api_authorizer_token'), 1);
    assert.equal(sim.calls('api_component_token'), 0, 'the component token from the authorization is reused');
    assert.equal(new Set(tokens.map((token) => token.accessToken)).size, 1);
  });

  it('stores a rotated refresh token and keeps the previous one', async (t) => {
    // Prepare
    const { deps } = await setup(t);
    const appid = await authorizeInSim(deps);
    const original = wechatRefreshToken(appid);
    sim.setRefreshTokenRotation(true);
    t.after(() => sim.setRefreshTokenRotation(false));
    // Act
    await getAuthorizerAccessToken(deps, appid);
    // Assess
    const profile = await getAuthorizer(deps, appid);
    assert.notEqual(wechatRefreshToken(appid), original);
    assert.equal(profile?.refreshToken, wechatRefreshToken(appid));
    assert.equal(profile?.previousRefreshToken, original);
  });

  it('falls back to the previous refresh token once when WeChat rejects the current one (61023)', async (t) => {
    // Prepare
    const { deps } = await setup(t);
    const appid = await authorizeInSim(deps);
    await storeUnknownRefreshToken(deps, appid, 'refreshtoken@@@never-issued', nowSeconds(deps.clock));
    // Act
    const token = await getAuthorizerAccessToken(deps, appid);
    // Assess
    assert.ok(token.accessToken);
    assert.equal(sim.calls('api_authorizer_token'), 2);
    assert.equal(sim.calls('api_get_authorizer_list'), 0);
    assert.equal((await getAuthorizer(deps, appid))?.refreshToken, wechatRefreshToken(appid));
  });

  it('recovers the refresh token from api_get_authorizer_list when current and previous are both rejected', async (t) => {
    // Prepare
    const { deps } = await setup(t);
    const appid = await authorizeInSim(deps);
    const now = nowSeconds(deps.clock);
    await storeUnknownRefreshToken(deps, appid, 'refreshtoken@@@lost-one', now - 5);
    await storeUnknownRefreshToken(deps, appid, 'refreshtoken@@@lost-two', now);
    // Act
    const token = await getAuthorizerAccessToken(deps, appid);
    // Assess
    assert.ok(token.accessToken);
    assert.equal(sim.calls('api_authorizer_token'), 3);
    assert.equal(sim.calls('api_get_authorizer_list'), 1);
    const profile = await getAuthorizer(deps, appid);
    assert.equal(profile?.refreshToken, wechatRefreshToken(appid));
    assert.equal(profile?.status, 'authorized');
  });

  it('marks the account needs_reauth with an alert line naming it, never the token, when nothing recovers it', async (t) => {
    // Prepare
    const { deps, logger } = await setup(t);
    const appid = await authorizeInSim(deps);
    const refreshToken = wechatRefreshToken(appid)!;
    sim.inject({ api: 'api_authorizer_token', errcode: 61023, times: 1 });
    // Act
    const first = getAuthorizerAccessToken(deps, appid);
    await assert.rejects(first, (e: unknown) => e instanceof NeedsReauthError && e.message.includes(appid));
    const callsAfterFirst = sim.calls();
    const second = getAuthorizerAccessToken(deps, appid);
    // Assess
    await assert.rejects(second, NeedsReauthError);
    assert.equal(sim.calls('api_authorizer_token'), 1);
    assert.equal(sim.calls('api_get_authorizer_list'), 1, 'the listed token equals the rejected one, so it is not retried');
    assert.equal(sim.calls(), callsAfterFirst, 'a needs_reauth account costs no further WeChat calls');
    assert.equal((await getAuthorizer(deps, appid))?.status, 'needs_reauth');
    const alert = logger.records().find((r) => r.event === 'authorizer.needs_reauth');
    assert.equal(alert?.level, 'error');
    assert.equal(alert?.authorizerAppid, appid);
    assert.equal(
      logger.lines.some((line) => line.includes(refreshToken)),
      false,
    );
  });

  it('throws typed errors for unknown and revoked accounts without calling WeChat', async (t) => {
    // Prepare
    const { deps } = await setup(t);
    const revoked = await authorizeInSim(deps, { withToken: true });
    await markUnauthorized(deps, revoked, nowSeconds(deps.clock));
    // Act + Assess (one at a time: a rejection nobody awaits yet would fail the test as unhandled)
    await assert.rejects(
      getAuthorizerAccessToken(deps, 'wx00000000000000ff'),
      (e: unknown) => e instanceof AuthorizerNotFoundError && /authorize/.test(e.message),
    );
    await assert.rejects(getAuthorizerAccessToken(deps, revoked), AuthorizerUnauthorizedError);
    assert.equal(sim.calls(), 0);
  });

  it('marks an account unauthorized when WeChat answers 61003', async (t) => {
    // Prepare
    const { deps } = await setup(t);
    const appid = await authorizeInSim(deps);
    await sim.unauthorize(appid, { push: false });
    // Act
    const attempt = getAuthorizerAccessToken(deps, appid);
    // Assess
    await assert.rejects(attempt, AuthorizerUnauthorizedError);
    assert.equal((await getAuthorizer(deps, appid))?.status, 'unauthorized');
  });
});

describe('tokens.withAuthorizerToken', () => {
  it('expires the rejected authorizer token, refreshes once and retries the call once', async (t) => {
    // Prepare
    const { deps } = await setup(t);
    const appid = await authorizeInSim(deps, { withToken: true });
    sim.expireAuthorizerToken(appid);
    // Act
    await withAuthorizerToken(deps, appid, (token) => deps.wechat.sendCustomText(token, { toUser: 'openid-test', content: 'hello' }));
    // Assess
    assert.equal(sim.calls('message_custom_send'), 2);
    assert.equal(sim.calls('api_authorizer_token'), 1);
    assert.equal(sim.customerMessages().filter((m) => m.authorizerAppid === appid).length, 1);
  });
});

describe('tokens.refresh*IfDue', () => {
  it('reports fresh, refreshed and leased for the component token', async (t) => {
    // Prepare
    const { deps } = await setup(t);
    const now = nowSeconds(deps.clock);
    // Act
    const missing = await refreshComponentTokenIfDue(deps, { dueBefore: now + 600 });
    const fresh = await refreshComponentTokenIfDue(deps, { dueBefore: now + 600 });
    const due = await refreshComponentTokenIfDue(deps, { dueBefore: now + 7300 });
    await acquireLease(deps, componentLease(COMPONENT), 'on-demand-caller', 20_000);
    const leased = await refreshComponentTokenIfDue(deps, { dueBefore: now + 99_999 });
    // Assess
    assert.deepEqual([missing, fresh, due, leased], ['refreshed', 'fresh', 'refreshed', 'leased']);
    assert.equal(sim.calls('api_component_token'), 2);
  });

  it('reports fresh, refreshed and leased for an authorizer token, and inactive for a revoked account', async (t) => {
    // Prepare
    const { deps } = await setup(t);
    const appid = await authorizeInSim(deps, { withToken: true });
    const now = nowSeconds(deps.clock);
    // Act
    const fresh = await refreshAuthorizerTokenIfDue(deps, appid, { dueBefore: now + 600 });
    const due = await refreshAuthorizerTokenIfDue(deps, appid, { dueBefore: now + 7300 });
    await acquireLease(deps, authorizerLease(appid), 'on-demand-caller', 20_000);
    const leased = await refreshAuthorizerTokenIfDue(deps, appid, { dueBefore: now + 99_999 });
    await markUnauthorized(deps, appid, now);
    await releaseLease(deps, authorizerLease(appid), 'on-demand-caller');
    const revoked = await refreshAuthorizerTokenIfDue(deps, appid, { dueBefore: now + 99_999 });
    // Assess
    assert.deepEqual([fresh, due, leased, revoked], ['fresh', 'refreshed', 'leased', 'inactive']);
    assert.equal(sim.calls('api_authorizer_token'), 1);
  });
});
