// JS-SDK tickets (lib/on-behalf/jsapi.ts) against DynamoDB Local and the WeChat simulator (a real HTTP server on
// 127.0.0.1 counting getticket calls, answering after SIM_LATENCY_MS):
//  - upstream: getticket calls for 100 concurrent requests with nothing stored (target 1), and per ticket
//    lifetime over LIFETIMES lifetimes of 100 concurrent requests each (the service's clock moved past the margin);
//  - served from the table once cached: ticket requests and wx.config signatures per second.
// `node bench/jsapi-ticket.ts` (or `npm run bench jsapi`).
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Agent } from 'undici';
import { simulatorEnv, SIMULATOR_COMPONENT } from '../infra/local/credentials.ts';
import { ensureTable, localClient, startDynamoLocal } from '../infra/local/dynamodb.ts';
import { startSimulator } from '../infra/local/simulator/index.ts';
import { nowSeconds } from '../lib/kernel/clock.ts';
import { createMemoryLogger } from '../lib/kernel/logger.ts';
import { createMemoryMetrics } from '../lib/kernel/metrics.ts';
import { createJsapiConfig, getJsapiTicket, JSAPI_TICKET_MARGIN_S, type OnBehalfDeps } from '../lib/on-behalf/jsapi.ts';
import { loadConfig } from '../lib/runtime/config.ts';
import { createWeChatDeps } from '../lib/runtime/wechat-deps.ts';
import { saveAuthorization } from '../lib/store/grants.ts';
import { saveVerifyTicket } from '../lib/store/tickets.ts';
import { createWeChatClient } from '../lib/wechat/client.ts';
import { report, round } from './lib.ts';

const COMMAND = 'node bench/jsapi-ticket.ts';
const CALLERS = 100;
const LIFETIMES = 3;
const SIM_LATENCY_MS = 100;
const CACHED_REQUESTS = 3000;
const CACHED_CONCURRENCY = 32;

const dynamo = await startDynamoLocal();
const sim = await startSimulator({ autoPush: false, ticketIntervalMs: 0 });
const agent = new Agent({ connections: 256 });
try {
  const tableName = 'bench-jsapi-ticket';
  await ensureTable(dynamo.endpoint, tableName);
  const doc = DynamoDBDocumentClient.from(localClient(dynamo.endpoint), { marshallOptions: { removeUndefinedValues: true } });
  const config = loadConfig({ ...simulatorEnv(), TABLE_NAME: tableName, WECHAT_API_BASE_URL: sim.url, PUBLIC_BASE_URL: 'http://127.0.0.1:3000' });
  const logger = createMemoryLogger('warn');
  let offsetMs = 0;
  const clock = () => Date.now() + offsetMs;
  const wechat = createWeChatClient({ baseUrl: sim.url, logger, dispatcher: agent });
  const deps: OnBehalfDeps = { ...createWeChatDeps(config, config.secrets!, { doc, logger, wechat, clock }), metrics: createMemoryMetrics() };
  await sim.pushTicket();
  await saveVerifyTicket(deps, { componentAppId: SIMULATOR_COMPONENT.appId, ticket: sim.latestTicket()!, createTime: nowSeconds(clock) });
  // Official accounts whose owners authorized: the refresh token stored, no access token and no ticket yet.
  const authorize = async () => {
    const { authorizerAppid } = await sim.authorize({ kind: 'official', push: false });
    const refreshToken = sim.accounts().find((a) => a.appid === authorizerAppid)!.refreshToken!;
    await saveAuthorization(deps, authorizerAppid, { refreshToken, funcInfo: [1], authorizedAt: nowSeconds(clock) - 10 });
    return authorizerAppid;
  };
  sim.setLatency(SIM_LATENCY_MS);

  // Warm-up on another account, so the JVM and the pools are warm for the figures.
  const warm = await authorize();
  await Promise.all(Array.from({ length: CALLERS }, () => getJsapiTicket(deps, warm)));

  const appid = await authorize();
  sim.resetCounters();
  const started = performance.now();
  const first = await Promise.allSettled(Array.from({ length: CALLERS }, () => getJsapiTicket(deps, appid)));
  const firstMs = performance.now() - started;
  const firstCalls = sim.calls('getticket');
  const served = first.filter((r) => r.status === 'fulfilled').length;
  report({
    name: `jsapi ticket: ${CALLERS} concurrent requests, nothing stored`,
    value: firstCalls,
    unit: 'getticket calls',
    target: '1',
    command: COMMAND,
    note: `${served}/${CALLERS} served, all in ${round(firstMs, 0)} ms (the account token fetched on the way: ${sim.calls('api_authorizer_token')} api_authorizer_token); simulator latency ${SIM_LATENCY_MS} ms`,
  });

  // Each further lifetime: the clock moves to the margin of the stored ticket, then 100 callers at once.
  for (let n = 1; n < LIFETIMES; n += 1) {
    offsetMs += (7200 - JSAPI_TICKET_MARGIN_S) * 1000;
    // The simulator keeps real time, so its tokens stay valid; the service sees its stored ones as due.
    await Promise.all(Array.from({ length: CALLERS }, () => getJsapiTicket(deps, appid)));
  }
  const perLifetime = sim.calls('getticket') / LIFETIMES;
  report({
    name: `jsapi ticket: getticket calls per ticket lifetime, ${CALLERS}× concurrency`,
    value: round(perLifetime, 2),
    unit: 'calls per lifetime',
    target: '1',
    command: COMMAND,
    note: `${sim.calls('getticket')} getticket calls over ${LIFETIMES} lifetimes of ${CALLERS} concurrent requests each`,
  });
  sim.setLatency(0);

  const throughput = async (label: string, request: () => Promise<unknown>) => {
    const callsBefore = sim.calls();
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CACHED_CONCURRENCY }, async () => {
        while (next < CACHED_REQUESTS) {
          next += 1;
          await request();
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    report({
      name: `jsapi ticket: ${label} served from the table once cached`,
      value: round(CACHED_REQUESTS / seconds, 0),
      unit: 'requests/s',
      target: '>= 200 requests/s',
      command: COMMAND,
      note: `${CACHED_REQUESTS} requests, ${CACHED_CONCURRENCY} at a time, one process against DynamoDB Local (one consistent BatchGet each); ${sim.calls() - callsBefore} WeChat calls meanwhile`,
    });
  };
  await throughput('ticket requests', () => getJsapiTicket(deps, appid));
  await throughput('wx.config signatures', () => createJsapiConfig(deps, appid, 'https://h5.example.com/page?id=1#top'));
  process.stdout.write(`getticket calls in total: ${sim.calls('getticket')}\n`);
} finally {
  await agent.close();
  await sim.stop();
  await dynamo.stop();
}
