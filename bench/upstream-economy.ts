// Upstream economy: how many WeChat calls 100 concurrent token requests cost when no token is stored (target:
// one), for the component token and for one authorizer, and the same when the lease is held by a caller that
// died (a lease nobody will release, which must run out before anyone calls WeChat, and then only once).
// The real token service (lib/tokens/index.ts) against DynamoDB Local and the WeChat simulator (a real
// HTTP server on 127.0.0.1 counting calls), which answers each token call after SIM_LATENCY_MS.
// `node bench/upstream-economy.ts` (or `npm run bench upstream`).
import { Agent } from 'undici';
import { simulatorEnv, SIMULATOR_COMPONENT } from '../infra/local/credentials.ts';
import { ensureTable, localClient, startDynamoLocal } from '../infra/local/dynamodb.ts';
import { startSimulator, type Simulator } from '../infra/local/simulator/index.ts';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { nowSeconds } from '../lib/kernel/clock.ts';
import { loadConfig } from '../lib/runtime/config.ts';
import { createWeChatDeps, type WeChatDeps } from '../lib/runtime/wechat-deps.ts';
import { createMemoryLogger } from '../lib/kernel/logger.ts';
import { authorizerLease, getAuthorizerAccessToken } from '../lib/tokens/authorizer-token.ts';
import { componentLease, getComponentAccessToken, withComponentToken } from '../lib/tokens/component-token.ts';
import type { AccessToken } from '../lib/store/tokens.ts';
import { saveAuthorization } from '../lib/store/grants.ts';
import { acquireLease } from '../lib/store/claims.ts';
import { saveVerifyTicket } from '../lib/store/tickets.ts';
import { createWeChatClient } from '../lib/wechat/client.ts';
import { report, round } from './lib.ts';

const COMMAND = 'node bench/upstream-economy.ts';
const CALLERS = 100;
const SIM_LATENCY_MS = 100;
/** The dead holder's lease: short, so the bench waits seconds, not the production 20-60 s. */
const DEAD_LEASE_MS = 2_000;
const COMPONENT = SIMULATOR_COMPONENT.appId;

let tables = 0;
/** Deps on a fresh table (no token stored) with a live ticket stored as the push intake would store it. */
const freshDeps = async (endpoint: string, sim: Simulator, agent: Agent): Promise<WeChatDeps> => {
  tables += 1;
  const tableName = `bench-upstream-${tables}`;
  await ensureTable(endpoint, tableName);
  const doc = DynamoDBDocumentClient.from(localClient(endpoint), { marshallOptions: { removeUndefinedValues: true } });
  const config = loadConfig({ ...simulatorEnv(), TABLE_NAME: tableName, WECHAT_API_BASE_URL: sim.url, PUBLIC_BASE_URL: 'http://127.0.0.1:3000' });
  const logger = createMemoryLogger('warn');
  const wechat = createWeChatClient({ baseUrl: sim.url, logger, dispatcher: agent });
  const deps = createWeChatDeps(config, config.secrets!, { doc, logger, wechat });
  await sim.pushTicket();
  await saveVerifyTicket(deps, { componentAppId: COMPONENT, ticket: sim.latestTicket()!, createTime: nowSeconds(deps.clock) });
  return deps;
};

/** An owner authorizes in the simulator; the authorization is stored with its refresh token and no access token. */
const authorizedAccount = async (deps: WeChatDeps, sim: Simulator): Promise<string> => {
  const { authorizerAppid, authorizationCode } = await sim.authorize({ push: false });
  const auth = await withComponentToken(deps, (token) => deps.wechat.apiQueryAuth(token, { componentAppId: COMPONENT, authorizationCode }));
  await saveAuthorization(deps, authorizerAppid, {
    refreshToken: auth.authorizerRefreshToken!,
    funcInfo: auth.funcInfo,
    authorizedAt: nowSeconds(deps.clock) - 10,
  });
  return authorizerAppid;
};

interface Scenario {
  readonly name: string;
  readonly api: 'api_component_token' | 'api_authorizer_token';
  readonly request: () => Promise<AccessToken>;
  readonly note: string;
}

const measure = async (sim: Simulator, scenario: Scenario) => {
  sim.resetCounters();
  const started = performance.now();
  const results = await Promise.allSettled(Array.from({ length: CALLERS }, scenario.request));
  const wallMs = performance.now() - started;
  const calls = sim.calls(scenario.api);
  const tokens = new Set(results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.accessToken] : [])));
  const failed = results.filter((r) => r.status === 'rejected');
  const outcome =
    `${CALLERS - failed.length}/${CALLERS} callers got a token, ${tokens.size} distinct; all ${CALLERS} answered in ${round(wallMs, 0)} ms` +
    (failed.length > 0 ? `; first failure: ${String((failed[0] as PromiseRejectedResult).reason).slice(0, 160)}` : '');
  report({
    name: `upstream economy: ${scenario.name}`,
    value: calls,
    unit: `${scenario.api} calls`,
    target: '1',
    command: COMMAND,
    note: `${scenario.note}; ${outcome}`,
  });
  report({
    name: `upstream economy: ${scenario.name}: all served`,
    value: round(wallMs, 0),
    unit: 'ms',
    command: COMMAND,
    note: `until the last of the ${CALLERS} callers had its token: the one WeChat call plus the followers' polling of the table (25 ms growing to 500 ms)`,
  });
  process.stdout.write(`${scenario.name}: ${calls} ${scenario.api} calls; ${outcome}\n`);
};

const dynamo = await startDynamoLocal();
const sim = await startSimulator({ autoPush: false, ticketIntervalMs: 0 });
const agent = new Agent({ connections: 256 });
try {
  sim.setLatency(SIM_LATENCY_MS);
  const base = `${CALLERS} concurrent callers, nothing stored, simulator answering after ${SIM_LATENCY_MS} ms`;

  // A throw-away round first, so the DynamoDB Local JVM and the HTTP pools are warm for the timed ones.
  const warmup = await freshDeps(dynamo.endpoint, sim, agent);
  await Promise.all(Array.from({ length: CALLERS }, () => getComponentAccessToken(warmup)));

  const component = await freshDeps(dynamo.endpoint, sim, agent);
  await measure(sim, {
    name: `${CALLERS} concurrent component token requests`,
    api: 'api_component_token',
    request: () => getComponentAccessToken(component),
    note: base,
  });

  const authorizerDeps = await freshDeps(dynamo.endpoint, sim, agent);
  const appid = await authorizedAccount(authorizerDeps, sim);
  await measure(sim, {
    name: `${CALLERS} concurrent authorizer token requests (one account)`,
    api: 'api_authorizer_token',
    request: () => getAuthorizerAccessToken(authorizerDeps, appid),
    note: `${base} (the component token is stored; the account has only its refresh token)`,
  });

  const dead = await freshDeps(dynamo.endpoint, sim, agent);
  await acquireLease(dead, componentLease(COMPONENT), 'killed-holder', DEAD_LEASE_MS);
  await measure(sim, {
    name: `${CALLERS} concurrent component token requests, lease holder killed`,
    api: 'api_component_token',
    request: () => getComponentAccessToken(dead),
    note: `${base}; the lease was taken for ${DEAD_LEASE_MS} ms by an owner that never calls or releases (a crashed Lambda), so callers wait it out, then one takes over`,
  });

  const deadAuthorizerDeps = await freshDeps(dynamo.endpoint, sim, agent);
  const deadAppid = await authorizedAccount(deadAuthorizerDeps, sim);
  await acquireLease(deadAuthorizerDeps, authorizerLease(deadAppid), 'killed-holder', DEAD_LEASE_MS);
  await measure(sim, {
    name: `${CALLERS} concurrent authorizer token requests, lease holder killed`,
    api: 'api_authorizer_token',
    request: () => getAuthorizerAccessToken(deadAuthorizerDeps, deadAppid),
    note: `${base}; the account's lease was taken for ${DEAD_LEASE_MS} ms by an owner that never calls or releases`,
  });
} finally {
  await agent.close();
  await sim.stop();
  await dynamo.stop();
}
