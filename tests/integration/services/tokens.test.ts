// The token service against DynamoDB Local and the WeChat simulator (a real HTTP server on 127.0.0.1 that
// counts calls). Each test gets its own table, so the component token starts absent every time.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it, type TestContext } from 'node:test';
import { Agent } from 'undici';
import { simulatorEnv, SIMULATOR_COMPONENT } from '../../../infra/local/credentials.ts';
import { startSimulator, type Simulator } from '../../../infra/local/simulator/index.ts';
import { nowSeconds, type Clock } from '../../../lib/clock.ts';
import { loadConfig } from '../../../lib/config.ts';
import { createWeChatDeps, type WeChatDeps } from '../../../lib/deps-wechat.ts';
import { createMemoryLogger } from '../../../lib/logger.ts';
import {
  componentLease,
  getComponentAccessToken,
  MissingTicketError,
  TicketInvalidError,
  TOKEN_MARGIN_S,
  withComponentToken,
} from '../../../lib/services/tokens.ts';
import { acquireLease } from '../../../lib/store/lease.ts';
import { saveVerifyTicket } from '../../../lib/store/tickets.ts';
import { getComponentToken, putComponentToken } from '../../../lib/store/tokens.ts';
import { createWeChatClient, type WeChatClient } from '../../../lib/wechat/client.ts';
import { WeChatApiError } from '../../../lib/wechat/errors.ts';
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

export interface Setup {
  readonly deps: WeChatDeps;
  readonly logger: ReturnType<typeof createMemoryLogger>;
  /** Moves the service's clock (the simulator keeps real time). */
  advance(seconds: number): void;
}

/** A fresh table, deps on the simulator, and (unless `ticket: false`) a live ticket stored as the push would. */
export const setup = async (t: TestContext, options: { ticket?: boolean } = {}): Promise<Setup> => {
  const table = await createTestTable();
  t.after(() => table.close());
  let offsetMs = 0;
  const clock: Clock = () => Date.now() + offsetMs;
  const config = loadConfig({ ...simulatorEnv(), TABLE_NAME: table.tableName, WECHAT_API_BASE_URL: sim.url, PUBLIC_BASE_URL: 'https://platform.example.test' });
  const logger = createMemoryLogger('debug');
  const deps = createWeChatDeps(config, config.secrets!, { doc: table.doc, clock, logger, wechat });
  if (options.ticket !== false) {
    await sim.pushTicket();
    await saveVerifyTicket(deps, { componentAppId: COMPONENT, ticket: sim.latestTicket()!, createTime: nowSeconds(clock) });
  }
  sim.resetCounters();
  return { deps, logger, advance: (seconds) => (offsetMs += seconds * 1000) };
};

const FAST_LEASE = { leaseMs: 400, maxWaitMs: 3_000, pollMinMs: 20, pollMaxMs: 100 };

describe('tokens.getComponentAccessToken', () => {
  it('calls api_component_token once for 100 concurrent callers and gives them all the same token', async (t) => {
    // Prepare
    const { deps } = await setup(t);
    sim.setLatency(100, 'api_component_token');
    t.after(() => sim.setLatency(0, 'api_component_token'));
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
    t.diagnostic(`100 concurrent callers, 100 ms WeChat latency: first ${doneMs[0]?.toFixed(0)} ms, median ${doneMs[50]?.toFixed(0)} ms, last ${doneMs[99]?.toFixed(0)} ms`);
    assert.equal(sim.calls('api_component_token'), 1);
    assert.equal(new Set(tokens.map((token) => token.accessToken)).size, 1);
    assert.equal((await getComponentToken(deps, COMPONENT))?.accessToken, tokens[0]?.accessToken);
  });

  it('returns the stored token without calling WeChat while more than the margin is left', async (t) => {
    // Prepare
    const { deps, advance } = await setup(t);
    const first = await getComponentAccessToken(deps);
    advance(7200 - TOKEN_MARGIN_S - 60);
    // Act
    const second = await getComponentAccessToken(deps);
    // Assess
    assert.equal(second.accessToken, first.accessToken);
    assert.equal(sim.calls('api_component_token'), 1);
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

  it('takes over the refresh after a crashed holder\'s lease runs out', async (t) => {
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

  it('throws MissingTicketError telling the operator what to do, without calling WeChat', async (t) => {
    // Prepare
    const { deps } = await setup(t, { ticket: false });
    // Act
    const attempt = getComponentAccessToken(deps);
    // Assess
    await assert.rejects(attempt, (e: unknown) => e instanceof MissingTicketError && /api_start_push_ticket/.test(e.message));
    assert.equal(sim.calls(), 0);
  });

  it('hands the holder\'s TicketInvalidError to every waiting caller after a single call', async (t) => {
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
