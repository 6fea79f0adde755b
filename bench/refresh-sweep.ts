// The scheduled refresh at scale: 100,000 authorizers of which 10,000 are due, DynamoDB Local and the WeChat
// simulator answering every API after 50 ms. The refresh handler runs as deployed: the scheduled event starts
// the run, which starts its worker runs through the real Lambda client on a local Lambda endpoint
// (infra/local/lambda-endpoint.ts), each worker with its own clients as a separate Lambda would have. Measured at
// 1, 2 and 4 workers (the due set made due again before each), after a warm-up run over 1,000 other accounts (so
// the first measured run does not pay for DynamoDB Local's JIT compilation), then a second run straight after the
// last, which must call WeChat zero times. Prints WeChat calls, DynamoDB calls per due account, read capacity and wall times.
// `node bench/refresh-sweep.ts [accounts] [due] [concurrency] [workers,…]`
import { availableParallelism, loadavg } from 'node:os';
import type { ScheduledEvent } from 'aws-lambda';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createHandler } from '../functions/refresh/handler.ts';
import { simulatorEnv, SIMULATOR_COMPONENT } from '../infra/local/credentials.ts';
import { ensureTable, localClient, startDynamoLocal } from '../infra/local/dynamodb.ts';
import { startLambdaEndpoint } from '../infra/local/lambda-endpoint.ts';
import { startSimulator } from '../infra/local/simulator/index.ts';
import { loadConfig } from '../lib/runtime/config.ts';
import { lambdaStartRun } from '../lib/runtime/self-invoke.ts';
import { createWeChatDeps } from '../lib/runtime/wechat-deps.ts';
import { createLogger } from '../lib/kernel/logger.ts';
import { createMemoryMetrics } from '../lib/kernel/metrics.ts';
import type { RefreshSummary } from '../lib/tokens/scheduled-refresh.ts';
import { authorizerKey, listKeys } from '../lib/store/keys.ts';
import { nextRefreshFor, scheduleAttributes } from '../lib/store/schedule.ts';
import { saveVerifyTicket } from '../lib/store/tickets.ts';
import { tokenItem } from '../lib/store/tokens.ts';
import { report, round } from './lib.ts';

const COMMAND = 'node bench/refresh-sweep.ts';
const ACCOUNTS = Number(process.argv[2] ?? 100_000);
const DUE = Number(process.argv[3] ?? 10_000);
const CONCURRENCY = Number(process.argv[4] ?? 16);
const WORKERS = (process.argv[5] ?? '1,2,4').split(',').map(Number);
const LATENCY_MS = 50;
const WARM_UP = Math.min(1_000, DUE);
const FUNCTION = 'wechat-component-bench-refresh';
const SCHEDULED = { 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} } as unknown as ScheduledEvent;

const nowS = () => Math.floor(Date.now() / 1000);
const say = (line: string) => process.stdout.write(`${line}\n`);
const load = () =>
  `load average ${loadavg()
    .map((l) => round(l, 1))
    .join(' ')} on ${availableParallelism()} CPUs`;

/** Counts every DynamoDB call a client sends, by command, and the time they took. */
const counted = (doc: DynamoDBDocumentClient, counts: Map<string, number>) => {
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? '?';
      counts.set(name, (counts.get(name) ?? 0) + 1);
      const t0 = performance.now();
      try {
        return await next(args);
      } finally {
        latencyMs.set(name, (latencyMs.get(name) ?? 0) + performance.now() - t0);
      }
    },
    { step: 'initialize', name: 'benchOperationCounter' },
  );
  return doc;
};

const dynamo = await startDynamoLocal({ steady: true });
const sim = await startSimulator({ port: 0 });
const tableName = 'bench-refresh-sweep';
const counts = new Map<string, number>();
const latencyMs = new Map<string, number>();
const clients: DynamoDBDocumentClient[] = [];
const newDoc = () => {
  const doc = DynamoDBDocumentClient.from(localClient(dynamo.endpoint), { marshallOptions: { removeUndefinedValues: true } });
  clients.push(doc);
  return doc;
};
const seedDoc = newDoc();

const writeItems = async (items: Record<string, unknown>[]) => {
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  const writeBatch = async (batch: Record<string, unknown>[]) => {
    let requests = batch.map((Item) => ({ PutRequest: { Item } }));
    while (requests.length > 0) {
      const out = await seedDoc.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
      requests = (out.UnprocessedItems?.[tableName] ?? []) as typeof requests;
    }
  };
  for (let i = 0; i < batches.length; i += 32) await Promise.all(batches.slice(i, i + 32).map(writeBatch));
};

const profile = (appid: string, refreshToken: string, expiresAt: number, now: number) => ({
  ...authorizerKey(appid, 'PROFILE'),
  authorizerAppid: appid,
  status: 'authorized',
  refreshToken,
  funcInfo: [1],
  authorizedAt: now - 86_400,
  updatedAt: now - 86_400,
  version: 1,
  ...listKeys(appid),
  ...scheduleAttributes(appid, nextRefreshFor(expiresAt)),
});

try {
  await ensureTable(dynamo.endpoint, tableName);
  const config = loadConfig({
    ...simulatorEnv(),
    TABLE_NAME: tableName,
    WECHAT_API_BASE_URL: sim.url,
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    PUBLIC_BASE_URL: 'http://127.0.0.1:9',
    REFRESH_CONCURRENCY: String(CONCURRENCY),
  });
  // Warnings and errors only, on stderr: the runs' own lines would drown the figures.
  const logger = createLogger({ level: 'warn', sink: (line) => process.stderr.write(`${line}\n`) });
  const depsFor = (workers: number) => ({
    ...createWeChatDeps({ ...config, refreshWorkers: workers }, config.secrets!, { doc: counted(newDoc(), counts), logger }),
    metrics: createMemoryMetrics(),
  });

  // Seed: the due accounts are authorized in the simulator (their refresh tokens work); the others only exist in
  // the table, scheduled an hour or more ahead, as most of a real platform's accounts are at any moment.
  const started = Date.now();
  const authorized = await Promise.all(Array.from({ length: DUE + WARM_UP }, () => sim.authorize({ push: false })));
  const due = authorized.slice(0, DUE).map((a) => a.authorizerAppid);
  const warm = authorized.slice(DUE).map((a) => a.authorizerAppid);
  const now = nowS();
  const idle = Array.from({ length: ACCOUNTS - DUE }, (_, i) => `wx${(0xbe00000000000000n + BigInt(i)).toString(16)}`);
  const makeDue = async (appids: string[], inS = 120) => {
    const at = nowS();
    const refreshTokens = new Map(sim.accounts().map((a) => [a.appid, a.refreshToken ?? '']));
    await writeItems(
      appids.flatMap((appid, i) => {
        const expiresAt = at + inS + (i % 300);
        return [
          profile(appid, refreshTokens.get(appid) ?? '', expiresAt, at),
          tokenItem(authorizerKey(appid, 'ACCESS_TOKEN'), { accessToken: `seeded-${appid}`, expiresAt }, at - 7000),
        ];
      }),
    );
  };
  await writeItems(idle.map((appid, i) => profile(appid, `refreshtoken@@@idle-${i}`, now + 3600 + (i % 3000), now)));
  await makeDue(warm);
  // The measured set: stored with tokens valid for an hour, made due before each measured run.
  await makeDue(due, 3600);
  await sim.pushTicket();
  await saveVerifyTicket(depsFor(1), { componentAppId: SIMULATOR_COMPONENT.appId, ticket: sim.latestTicket()!, createTime: now - 60 });
  say(`seeded ${ACCOUNTS} accounts (${DUE} due) in ${round((Date.now() - started) / 1000, 1)} s`);
  sim.setLatency(LATENCY_MS);

  const summaries: RefreshSummary[] = [];
  const endpoint = await startLambdaEndpoint({
    [FUNCTION]: async (event, context) => {
      // Each invocation is a Lambda of its own: its own clients, its own in-flight refreshes.
      const summary = await createHandler(depsFor(1), lambdaStartRun({ lambdaEndpoint: endpointUrl, awsRegion: 'local' }))(
        event as ScheduledEvent,
        context,
      );
      summaries.push(summary as RefreshSummary);
      return summary;
    },
  });
  const endpointUrl = endpoint.url;

  /** One scheduled run spread over `workers`, to the end of its last worker. */
  const run = async (workers: number, dueCount = DUE) => {
    counts.clear();
    latencyMs.clear();
    summaries.length = 0;
    sim.resetCounters();
    const t0 = Date.now();
    const context = {
      functionName: FUNCTION,
      getRemainingTimeInMillis: () => 600_000 - (Date.now() - t0),
    } as Parameters<ReturnType<typeof createHandler>>[1];
    const first = (await createHandler(depsFor(workers), lambdaStartRun({ lambdaEndpoint: endpointUrl, awsRegion: 'local' }))(
      SCHEDULED,
      context,
    )) as RefreshSummary;
    summaries.push(first);
    await endpoint.settled();
    const wallS = (Date.now() - t0) / 1000;
    const dynamoCalls = [...counts.values()].reduce((a, b) => a + b, 0);
    const refreshed = summaries.reduce((n, s) => n + s.refreshed, 0);
    const rcu = summaries.reduce((n, s) => n + s.consumedCapacity, 0);
    const result = {
      workers,
      wallS,
      calls: sim.calls('api_authorizer_token'),
      all: sim.calls(),
      dynamoCalls,
      refreshed,
      rcu,
      runs: summaries.length,
    };
    say(
      `${workers} worker(s): ${result.runs} runs, ${result.calls} api_authorizer_token calls (${result.all} in all), refreshed ${refreshed}, ` +
        `${dynamoCalls} DynamoDB calls (${round(dynamoCalls / Math.max(1, dueCount), 2)} per due account: ${[...counts].map(([c, n]) => `${c.replace('Command', '')} ${n} × ${round((latencyMs.get(c) ?? 0) / n, 1)} ms`).join(', ')}), ` +
        `${rcu} RCU, ${round(wallS, 2)} s wall, ${round(dynamoCalls / wallS, 0)} DynamoDB calls/s; ${load()}`,
    );
    return result;
  };

  const warmUp = await run(1, WARM_UP);
  if (warmUp.calls !== WARM_UP) say(`✖ the warm-up refreshed ${warmUp.calls} accounts, not ${WARM_UP}`);
  const results = [];
  for (const workers of WORKERS) {
    await makeDue(due);
    results.push(await run(workers));
  }
  const second = await run(WORKERS.at(-1) ?? 1);
  await endpoint.stop();

  const label = `refresh ${ACCOUNTS} accounts / ${DUE} due, ${LATENCY_MS} ms latency, concurrency ${CONCURRENCY} per run`;
  const base = results[0]!;
  for (const r of results) {
    report({
      name: `${label}, ${r.workers} worker(s): api_authorizer_token calls`,
      value: r.calls,
      unit: 'calls',
      target: `= ${DUE}`,
      command: COMMAND,
    });
    report({
      name: `${label}, ${r.workers} worker(s): DynamoDB calls per due account`,
      value: round(r.dynamoCalls / DUE, 2),
      unit: 'calls',
      target: '<= 5',
      command: COMMAND,
      note: `every client of every run counted, seeding excluded; ${load()}`,
    });
    report({
      name: `${label}, ${r.workers} worker(s): wall time`,
      value: round(r.wallS, 2),
      unit: 's',
      command: COMMAND,
      note: `scheduled event to the end of the last worker run; WeChat-latency bound ${round((Math.ceil(DUE / (CONCURRENCY * r.workers)) * LATENCY_MS) / 1000, 2)} s; ${load()}`,
    });
    report({
      name: `${label}, ${r.workers} worker(s): DynamoDB Local calls per second`,
      value: round(r.dynamoCalls / r.wallS, 0),
      unit: 'calls/s',
      command: COMMAND,
      note: 'what the one DynamoDB Local process served: flat across worker counts when it is the bottleneck',
    });
    if (r !== base) {
      report({
        name: `${label}: wall time 1 worker / ${r.workers} workers`,
        value: round(base.wallS / r.wallS, 2),
        unit: '×',
        target: '> 1',
        command: COMMAND,
        note: `${round(base.wallS, 1)} s / ${round(r.wallS, 1)} s`,
      });
    }
  }
  report({ name: `${label}: due query read capacity`, value: base.rcu, unit: 'RCU', target: `∝ ${DUE} due, not ${ACCOUNTS}`, command: COMMAND });
  report({ name: `${label}: second run WeChat calls`, value: second.all, unit: 'calls', target: '= 0', command: COMMAND });
  if (results.some((r) => r.calls !== DUE || r.refreshed !== DUE) || second.all !== 0) {
    say(`✖ expected ${DUE} calls and refreshes in every run and no WeChat call on the second run`);
    process.exitCode = 1;
  }
} finally {
  for (const doc of clients) doc.destroy();
  await sim.stop();
  await dynamo.stop();
}
