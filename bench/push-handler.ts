// Push handler end to end: the `ticket` function against DynamoDB Local, warm, 1,000 pushes at concurrency 1
// and at 20 (p50/p99 latency, pushes/s), first in this process (createHandler with the real deps: DynamoDB
// client, logger, config), then over HTTP through serverless-offline (the bundled function behind its API
// Gateway emulation). Peak RSS of this process during the in-process 20-way run.
// Every push is a distinct genuine `authorized` event (own authorizer, own CreateTime), so every one is a
// real conditional PutItem of a new EVENT item; the table's item count is checked afterwards.
// Encryption happens before any clock starts. `node bench/push-handler.ts` (or `npm run bench push-handler`);
// BENCH_PART=in-process or BENCH_PART=http runs one half, BENCH_PUSHES=n changes the 1,000, and
// BENCH_OFFLINE_EXTRA adds one serverless-offline option (e.g. --useInProcess, to compare without workers).
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { Agent, request } from 'undici';
import { simulatorEnv, SIMULATOR_COMPONENT } from '../infra/local/credentials.ts';
import { ensureTable, freePort, localClient, startDynamoLocal } from '../infra/local/dynamodb.ts';
import { LOCAL_TABLE, waitForHttp } from '../infra/local/offline.ts';
import { createHandler } from '../functions/ticket/handler.ts';
import { loadConfig } from '../lib/runtime/config.ts';
import { createDeps } from '../lib/runtime/deps.ts';
import { recordEvent, type NewEvent } from '../lib/store/events.ts';
import { startProc, type Proc } from '../tests/helpers/proc.ts';
import { authorizedXml, httpEvent, outerBody, pushQuery, sealPush } from '../tests/helpers/wechat-push.ts';
import { percentile, report, round } from './lib.ts';

const COMMAND = 'node bench/push-handler.ts';
const PUSHES = Number(process.env.BENCH_PUSHES ?? 1000);
const WARMUP = 100;
const PATH = '/wechat/component/events';
const IN_PROCESS_TABLE = 'bench-push-handler';
/** serverless-offline's part, warm-up included, from its first push. */
const HTTP_BUDGET_MS = Number(process.env.BENCH_HTTP_BUDGET_MS ?? 120_000);

interface Push {
  readonly query: Record<string, string>;
  readonly body: string;
}

const { appId, token } = SIMULATOR_COMPONENT;
let sequence = 0;
/** `count` distinct authorized pushes, sealed as WeChat seals them, with a current `timestamp`. */
const makePushes = (count: number): Push[] => {
  const timestamp = String(Math.floor(Date.now() / 1000));
  return Array.from({ length: count }, () => {
    sequence += 1;
    const inner = authorizedXml({
      appId,
      createTime: 1_700_000_000 + sequence,
      authorizerAppid: `wx${sequence.toString(16).padStart(16, '0')}`,
      code: `queryauthcode@@@${randomBytes(48).toString('base64url')}`,
      preAuthCode: `preauthcode@@@${randomBytes(36).toString('base64url')}`,
    });
    const envelope = sealPush(inner, {
      token,
      appId,
      encodingAesKey: SIMULATOR_COMPONENT.encodingAesKey,
      timestamp,
      nonce: String(100_000 + sequence),
    });
    return { query: pushQuery(token, envelope), body: outerBody(envelope.encrypt, appId) };
  });
};

interface Run {
  /** Every push's latency, failed ones included, sorted. */
  readonly latencies: number[];
  readonly failures: number;
  readonly firstFailure?: string;
  readonly wallMs: number;
}

/**
 * Sends every push with `concurrency` in flight; `send` resolves once the push is stored or throws. No new
 * push starts after `deadline` (performance.now() ms), so an overloaded machine cannot stall `npm run bench`.
 */
const drive = async (pushes: Push[], concurrency: number, send: (p: Push) => Promise<void>, deadline = Infinity): Promise<Run> => {
  const latencies: number[] = [];
  let failures = 0;
  let firstFailure: string | undefined;
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    for (let i = next++; i < pushes.length && performance.now() < deadline; i = next++) {
      const t = performance.now();
      try {
        await send(pushes[i]!);
      } catch (error) {
        failures += 1;
        firstFailure ??= `push ${i}: ${(error as Error).message.slice(0, 160)}`;
      }
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { latencies: latencies.sort((a, b) => a - b), failures, firstFailure, wallMs: performance.now() - started };
};

const load = () =>
  `load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join('/')} on ${os.availableParallelism()} cores`;

/** `production`: the figure stands for the function itself, so WeChat's 5 s window is its target. */
const reportRun = (label: string, concurrency: number, run: Run, note: string, production = true, what = 'pushes') => {
  const { latencies, wallMs, failures } = run;
  const pushesPerS = ((latencies.length - failures) / wallMs) * 1000;
  const failed = failures > 0 ? `; ${failures} FAILED (counted at their latency; first: ${run.firstFailure})` : '; none failed';
  const cut = latencies.length < PUSHES ? ` (time budget reached: ${latencies.length} of ${PUSHES} sent)` : '';
  const detail = `${latencies.length} distinct ${what} at concurrency ${concurrency}${cut}, warm; ${note}; max ${round(latencies.at(-1)!)} ms${failed}; ${load()} at the end`;
  const target = production ? '<< 5000 ms (WeChat window)' : undefined;
  report({ name: `${label} c=${concurrency}: p50`, value: round(percentile(latencies, 50)), unit: 'ms', target, command: COMMAND, note: detail });
  report({ name: `${label} c=${concurrency}: p99`, value: round(percentile(latencies, 99)), unit: 'ms', target, command: COMMAND, note: detail });
  if (failures > 0) {
    report({
      name: `${label} c=${concurrency}: unanswered`,
      value: failures,
      unit: what,
      target: production ? '= 0' : undefined,
      command: COMMAND,
      note: detail,
    });
  }
  report({ name: `${label} c=${concurrency}: throughput`, value: round(pushesPerS, 0), unit: `${what}/s`, command: COMMAND, note: detail });
  process.stdout.write(
    `${label} c=${concurrency}: p50 ${round(percentile(latencies, 50))} ms, p99 ${round(percentile(latencies, 99))} ms, ${round(pushesPerS, 0)} ${what}/s, ${failures} failed\n`,
  );
};

const countItems = async (endpoint: string, tableName: string): Promise<number> => {
  const client = localClient(endpoint);
  let count = 0;
  let start: Record<string, never> | undefined;
  do {
    // EVENT items only: serverless-offline also runs the refresh schedule, which may leave a LEASE item.
    const page = await client.send(
      new ScanCommand({
        TableName: tableName,
        Select: 'COUNT',
        FilterExpression: 'sk = :event',
        ExpressionAttributeValues: { ':event': { S: 'EVENT' } },
        ExclusiveStartKey: start,
      }),
    );
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey as typeof start;
  } while (start);
  client.destroy();
  return count;
};

/** Every answered push must have written its own item (a failed one may or may not have). */
const expectStored = async (endpoint: string, tableName: string, answered: number, sent = answered) => {
  const stored = await countItems(endpoint, tableName);
  process.stdout.write(`${tableName}: ${stored} EVENT items stored for ${answered} answered of ${sent} pushes\n`);
  if (stored < answered || stored > sent) throw new Error(`${tableName}: ${stored} items stored after ${answered} answered of ${sent} pushes`);
};

/** Samples this process's RSS every 5 ms while `work` runs. */
const peakRss = async <T>(work: () => Promise<T>): Promise<{ result: T; peak: number }> => {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  try {
    const result = await work();
    return { result, peak: Math.max(peak, process.memoryUsage().rss) };
  } finally {
    clearInterval(timer);
  }
};

/** Several runs as one: latencies pooled, failures and wall time summed. */
const pooled = (runs: Run[]): Run => ({
  latencies: runs.flatMap((r) => r.latencies).sort((a, b) => a - b),
  failures: runs.reduce((sum, r) => sum + r.failures, 0),
  firstFailure: runs.find((r) => r.firstFailure)?.firstFailure,
  wallMs: runs.reduce((sum, r) => sum + r.wallMs, 0),
});

/** At c=20 the pushes and the bare writes alternate in this many blocks, so load on the machine hits both alike. */
const BLOCKS = 5;

const inProcess = async (endpoint: string) => {
  await ensureTable(endpoint, IN_PROCESS_TABLE);
  const config = loadConfig({
    ...simulatorEnv(),
    TABLE_NAME: IN_PROCESS_TABLE,
    DYNAMODB_ENDPOINT: endpoint,
    PUBLIC_BASE_URL: 'http://127.0.0.1:3000',
    LOG_LEVEL: 'warn',
  });
  const deps = createDeps(config, config.secrets!);
  const handle = createHandler(deps);
  const send = async (p: Push) => {
    const response = await handle(httpEvent({ rawPath: PATH, query: p.query, body: p.body }));
    if (response.statusCode !== 200 || response.body !== 'success') throw new Error(`push answered ${response.statusCode}: ${response.body}`);
  };
  const store = storeWrites(deps);
  const note = 'in process: createHandler(createDeps(config)) → verify, decrypt, parse, one conditional PutItem';
  await drive(makePushes(WARMUP), 20, send);
  reportRun('push handler in-process', 1, await drive(makePushes(PUSHES), 1, send), note);
  reportRun('store write alone (DynamoDB Local floor)', 1, await drive(store.writes(PUSHES), 1, store.send), store.note, false, 'writes');
  await drive(makePushes(WARMUP), 20, send);
  await drive(store.writes(WARMUP), 20, store.send);
  const blocks = Array.from({ length: BLOCKS }, () => ({ pushes: makePushes(PUSHES / BLOCKS), writes: store.writes(PUSHES / BLOCKS) }));
  const before = process.memoryUsage().rss;
  const { result, peak } = await peakRss(async () => {
    const runs = { pushes: [] as Run[], writes: [] as Run[] };
    for (const block of blocks) {
      runs.pushes.push(await drive(block.pushes, 20, send));
      runs.writes.push(await drive(block.writes, 20, store.send));
    }
    return { pushes: pooled(runs.pushes), writes: pooled(runs.writes) };
  });
  const alternating = `; ${BLOCKS} blocks of ${PUSHES / BLOCKS} pushes alternating with ${BLOCKS} blocks of as many bare writes`;
  reportRun('push handler in-process', 20, result.pushes, `${note}${alternating}`);
  reportRun('store write alone (DynamoDB Local floor)', 20, result.writes, `${store.note}${alternating}`, false, 'writes');
  const p99 = (run: Run) => percentile(run.latencies, 99);
  report({
    name: 'push handler in-process c=20: p99 / store write alone p99',
    value: round(p99(result.pushes) / p99(result.writes)),
    unit: '×',
    target: '<= 2×',
    command: COMMAND,
    note: `${round(p99(result.pushes))} ms / ${round(p99(result.writes))} ms: what the handler adds to its one write under 20-way load${alternating}`,
  });
  await expectStored(endpoint, IN_PROCESS_TABLE, 3 * WARMUP + 4 * PUSHES);
  const mib = (bytes: number) => round(bytes / 1024 / 1024, 1);
  report({
    name: 'push handler in-process c=20: peak RSS',
    value: mib(peak),
    unit: 'MiB',
    target: '< 256 MiB (the function memorySize)',
    command: COMMAND,
    note:
      `process.memoryUsage().rss sampled every 5 ms during the 20-way runs: the whole Node process (V8 heap, SDK, handler, ` +
      `the ${PUSHES} pre-sealed pushes), not the DynamoDB Local JVM; ${mib(before)} MiB just before the run; ` +
      `process lifetime maxRSS ${round(process.resourceUsage().maxRSS / 1024, 1)} MiB. One Lambda instance serves one push at a time, so this is an upper bound.`,
  });
};

/** The handler's one write alone (recordEvent of the same EVENT item, no HTTP event, crypto or XML): DynamoDB Local's share. */
const storeWrites = (deps: ReturnType<typeof createDeps>) => {
  const event = (n: number): NewEvent => ({
    kind: 'component_push',
    infoType: 'authorized',
    componentAppId: appId,
    authorizerAppid: `wx${(0x10000000 + n).toString(16).padStart(16, '0')}`,
    createTime: 1_800_000_000 + n,
    payload: { AppId: appId, InfoType: 'authorized', AuthorizationCode: `queryauthcode@@@${n}`, CreateTime: String(1_800_000_000 + n) },
  });
  let n = 0;
  return {
    writes: (count: number): Push[] => Array.from({ length: count }, () => ({ query: { n: String((n += 1)) }, body: '' })),
    send: async (p: Push) => {
      if ((await recordEvent(deps, event(Number(p.query.n)))) !== 'recorded') throw new Error('not recorded');
    },
    note: 'recordEvent alone: the same conditional PutItem the handler makes, through the same client',
  };
};

/** serverless-offline as `npm start` runs it (infra/local/start.ts), on free ports, with a build folder of its own. */
const startOffline = async (endpoint: string): Promise<{ proc: Proc; port: number }> => {
  const [port, lambdaPort] = await Promise.all([freePort(), freePort()]);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...simulatorEnv(),
    PORT: String(port),
    OFFLINE_LAMBDA_PORT: String(lambdaPort),
    DYNAMODB_ENDPOINT: endpoint,
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    // The ticket function never calls WeChat; this only keeps a scheduled refresh from reaching the internet.
    WECHAT_API_BASE_URL: 'http://127.0.0.1:9',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    LOG_LEVEL: 'warn',
    ESBUILD_WORK_FOLDER: '.build/bench-push-handler',
  };
  // --noTimeout: serverless-offline kills a worker that overruns the function timeout (10 s) and cold-starts
  // a new one for the next push; on a loaded 2-core machine that cold start overruns too, and every push
  // after it fails. Without the timeout a slow push stays a slow push, and shows in the latencies.
  // --terminateIdleLambdaTime: its idle reaper (60 s) can stop a worker just handed a request, which then
  // never answers; the bench keeps every worker for its whole run instead.
  const args = [
    'node_modules/serverless/bin/serverless.js',
    'offline',
    'start',
    '--localEnvironment',
    '--noTimeout',
    '--terminateIdleLambdaTime',
    '3600',
    ...(process.env.BENCH_OFFLINE_EXTRA ? [process.env.BENCH_OFFLINE_EXTRA] : []),
  ];
  const proc = startProc(process.execPath, args, env);
  stopOnSignal.add(() => proc.stop(3000));
  await waitForHttp(`http://127.0.0.1:${port}/`, 120_000);
  return { proc, port };
};

/** Posts a push as WeChat does; resolves once serverless-offline answered `success`. */
const httpSender = (port: number, agent: Agent) => async (p: Push) => {
  const response = await request(`http://127.0.0.1:${port}${PATH}?${new URLSearchParams(p.query)}`, {
    method: 'POST',
    body: p.body,
    headers: { 'content-type': 'text/xml' },
    dispatcher: agent,
  });
  const body = await response.body.text();
  // serverless-offline answers a Lambda timeout with 200 and an error document, so the body decides.
  if (response.statusCode !== 200 || body !== 'success') throw new Error(`${response.statusCode} ${body}`);
};

const overHttp = async (endpoint: string) => {
  await ensureTable(endpoint, LOCAL_TABLE);
  const { proc, port } = await startOffline(endpoint);
  const agent = new Agent({ connections: 32, headersTimeout: 20_000, bodyTimeout: 20_000 });
  const deadline = performance.now() + HTTP_BUDGET_MS;
  const send = httpSender(port, agent);
  let sent = 0;
  let answered = 0;
  const run = async (count: number, concurrency: number): Promise<Run> => {
    const result = await drive(makePushes(count), concurrency, send, deadline);
    sent += result.latencies.length;
    answered += result.latencies.length - result.failures;
    return result;
  };
  const note =
    'over HTTP: serverless-offline 14 (esbuild bundle in a worker thread per concurrent request, API Gateway v2 emulation), keep-alive client; ' +
    'the local emulator, not Lambda: no target';
  try {
    // serverless-offline starts one more worker (a cold start: load the bundle, build the deps) whenever all
    // are busy, so the pool is brought up step by step to twenty before anything is measured.
    for (const [concurrency, count] of [
      [1, 10],
      [2, 20],
      [5, 25],
      [10, 50],
      [20, 100],
    ] as const) {
      const warm = await run(count, concurrency);
      process.stdout.write(`warm-up c=${concurrency}: max ${round(warm.latencies.at(-1)!)} ms, ${warm.failures} failed\n`);
    }
    for (const concurrency of [1, 20]) {
      // Workers left idle by the 1-way run are woken first: the measured runs are of a warm pool.
      if (concurrency > 1) await run(WARMUP, concurrency);
      const measured = await run(PUSHES, concurrency);
      if (measured.latencies.length > 0) reportRun('push handler over serverless-offline', concurrency, measured, note, false);
    }
    await expectStored(endpoint, LOCAL_TABLE, answered, sent);
  } finally {
    await agent.close().catch(() => undefined);
    await proc.stop(5000);
  }
};

// `npm run bench` or a Ctrl-C may stop this process; serverless-offline runs in its own process group.
const stopOnSignal = new Set<() => Promise<unknown>>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void Promise.allSettled([...stopOnSignal].map((stop) => stop())).then(() => process.exit(130));
  });
}

const dynamo = await startDynamoLocal();
stopOnSignal.add(() => dynamo.stop());
try {
  if (process.env.BENCH_PART !== 'http') await inProcess(dynamo.endpoint);
  if (process.env.BENCH_PART !== 'in-process') await overHttp(dynamo.endpoint);
} finally {
  await dynamo.stop();
}
