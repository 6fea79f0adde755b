// The scheduled refresh at scale: 10,000 authorizers of which 1,000 are due, DynamoDB Local and the WeChat
// simulator answering every API after 50 ms. Prints the WeChat calls, the read capacity of the due query and
// the wall time of the run, then a second run right after (which must find nothing due).
// `node bench/refresh-sweep.ts [accounts] [due] [concurrency]`
import { availableParallelism, loadavg } from 'node:os';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { simulatorEnv, SIMULATOR_COMPONENT } from '../infra/local/credentials.ts';
import { ensureTable, localClient, startDynamoLocal } from '../infra/local/dynamodb.ts';
import { startSimulator } from '../infra/local/simulator/index.ts';
import { loadConfig } from '../lib/runtime/config.ts';
import { createWeChatDeps } from '../lib/runtime/wechat-deps.ts';
import { createLogger } from '../lib/kernel/logger.ts';
import { createMemoryMetrics } from '../lib/kernel/metrics.ts';
import { runRefresh } from '../lib/tokens/scheduled-refresh.ts';
import { authorizerKey, listKeys } from '../lib/store/keys.ts';
import { nextRefreshFor, scheduleAttributes } from '../lib/store/schedule.ts';
import { saveVerifyTicket } from '../lib/store/tickets.ts';
import { tokenItem } from '../lib/store/tokens.ts';
import { report, round } from './lib.ts';

const COMMAND = 'node bench/refresh-sweep.ts';
const ACCOUNTS = Number(process.argv[2] ?? 10_000);
const DUE = Number(process.argv[3] ?? 1_000);
const CONCURRENCY = Number(process.argv[4] ?? 16);
const LATENCY_MS = 50;
const TARGET_S = 20;

/** DynamoDB calls by command with their total latency, to show where a run's time goes. */
const countOperations = (doc: DynamoDBDocumentClient) => {
  const stats = new Map<string, { count: number; totalMs: number }>();
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      const startedAt = performance.now();
      try {
        return await next(args);
      } finally {
        const entry = stats.get(context.commandName ?? '?') ?? { count: 0, totalMs: 0 };
        entry.count += 1;
        entry.totalMs += performance.now() - startedAt;
        stats.set(context.commandName ?? '?', entry);
      }
    },
    { step: 'initialize', name: 'benchOperationCounter' },
  );
  return stats;
};

const nowS = () => Math.floor(Date.now() / 1000);
const say = (line: string) => process.stdout.write(`${line}\n`);

const writeItems = async (doc: DynamoDBDocumentClient, tableName: string, items: Record<string, unknown>[]) => {
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  const writeBatch = async (batch: Record<string, unknown>[]) => {
    let requests = batch.map((Item) => ({ PutRequest: { Item } }));
    while (requests.length > 0) {
      const out = await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
      requests = (out.UnprocessedItems?.[tableName] ?? []) as typeof requests;
    }
  };
  for (let i = 0; i < batches.length; i += 16) await Promise.all(batches.slice(i, i + 16).map(writeBatch));
};

const dynamo = await startDynamoLocal();
const sim = await startSimulator({ port: 0 });
try {
  const tableName = 'bench-refresh-sweep';
  await ensureTable(dynamo.endpoint, tableName);
  const doc = DynamoDBDocumentClient.from(localClient(dynamo.endpoint), { marshallOptions: { removeUndefinedValues: true } });
  const config = loadConfig({
    ...simulatorEnv(),
    TABLE_NAME: tableName,
    WECHAT_API_BASE_URL: sim.url,
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    PUBLIC_BASE_URL: 'http://127.0.0.1:9',
    REFRESH_CONCURRENCY: String(CONCURRENCY),
  });
  // Warnings and errors only, on stderr: the run's own lines would drown the figures.
  const logger = createLogger({ level: 'warn', sink: (line) => process.stderr.write(`${line}\n`) });
  const deps = { ...createWeChatDeps(config, config.secrets!, { doc, logger }), metrics: createMemoryMetrics() };
  const dynamoOps = countOperations(doc);

  let started = Date.now();
  const authorized = await Promise.all(Array.from({ length: ACCOUNTS }, () => sim.authorize({ push: false })));
  const refreshTokens = new Map(sim.accounts().map((a) => [a.appid, a.refreshToken ?? '']));
  const now = nowS();
  const items = authorized.flatMap(({ authorizerAppid: appid }, i) => {
    const expiresAt = i < DUE ? now + 120 + (i % 300) : now + 3600 + (i % 3000);
    return [
      {
        ...authorizerKey(appid, 'PROFILE'),
        authorizerAppid: appid,
        status: 'authorized',
        refreshToken: refreshTokens.get(appid),
        funcInfo: [1],
        authorizedAt: now - 86_400,
        updatedAt: now - 86_400,
        version: 1,
        ...listKeys(appid),
        ...scheduleAttributes(appid, nextRefreshFor(expiresAt)),
      },
      tokenItem(authorizerKey(appid, 'ACCESS_TOKEN'), { accessToken: `seeded-${appid}`, expiresAt }, now - 7000),
    ];
  });
  await writeItems(doc, tableName, items);
  await sim.pushTicket();
  await saveVerifyTicket(deps, { componentAppId: SIMULATOR_COMPONENT.appId, ticket: sim.latestTicket()!, createTime: now - 60 });
  say(`seeded ${ACCOUNTS} accounts (${DUE} due) in ${round((Date.now() - started) / 1000, 1)} s`);

  sim.setLatency(LATENCY_MS);
  dynamoOps.clear();
  started = Date.now();
  const first = await runRefresh(deps, { concurrency: CONCURRENCY });
  const wallS = (Date.now() - started) / 1000;
  const calls = sim.calls('api_authorizer_token');
  say(`run 1: ${JSON.stringify(first)}`);
  say(
    `run 1: ${calls} api_authorizer_token calls, ${sim.calls('api_component_token')} api_component_token, ${first.consumedCapacity} RCU, ${round(wallS, 2)} s wall`,
  );
  say(
    `run 1: pure WeChat latency bound ${round((Math.ceil(DUE / CONCURRENCY) * LATENCY_MS) / 1000, 2)} s; load average ${loadavg()
      .map((l) => round(l, 1))
      .join(' ')} on ${availableParallelism()} CPUs`,
  );
  for (const [command, { count, totalMs }] of dynamoOps) {
    say(`run 1: DynamoDB ${command}: ${count} (${round(count / DUE, 2)} per due account), ${round(totalMs / count, 1)} ms average`);
  }

  sim.resetCounters();
  started = Date.now();
  const second = await runRefresh(deps, { concurrency: CONCURRENCY });
  const secondS = (Date.now() - started) / 1000;
  say(`run 2: ${sim.calls()} WeChat calls, due ${second.due}, ${second.consumedCapacity} RCU, ${round(secondS, 2)} s wall`);

  const label = `refresh sweep ${ACCOUNTS} accounts / ${DUE} due, ${LATENCY_MS} ms latency, concurrency ${CONCURRENCY}`;
  report({ name: `${label}: api_authorizer_token calls`, value: calls, unit: 'calls', target: `= ${DUE}`, command: COMMAND });
  report({
    name: `${label}: due query read capacity`,
    value: first.consumedCapacity,
    unit: 'RCU',
    target: `∝ ${DUE} due, not ${ACCOUNTS}`,
    command: COMMAND,
  });
  report({ name: `${label}: wall time`, value: round(wallS, 2), unit: 's', target: `≤ ${TARGET_S} s`, command: COMMAND });
  const ops = [...dynamoOps.values()].reduce((total, { count }) => total + count, 0);
  const opMs = [...dynamoOps.values()].reduce((total, { totalMs }) => total + totalMs, 0) / Math.max(1, ops);
  report({
    name: `${label}: DynamoDB calls per due account`,
    value: round(ops / DUE, 2),
    unit: 'calls',
    command: COMMAND,
    note: `${round(opMs, 1)} ms average against DynamoDB Local; load average ${loadavg()
      .map((l) => round(l, 1))
      .join(' ')} on ${availableParallelism()} CPUs`,
  });
  report({ name: `${label}: second run WeChat calls`, value: sim.calls(), unit: 'calls', target: '= 0', command: COMMAND });
  if (calls !== DUE || first.refreshed !== DUE || second.due !== 0) {
    say(`✖ expected ${DUE} calls and refreshes and nothing due on the second run`);
    process.exitCode = 1;
  }
  doc.destroy();
} finally {
  await sim.stop();
  await dynamo.stop();
}
