// A rollout at scale (docs/fleet.md, docs/performance.md): N simulated mini programs, every WeChat API answering
// after 50 ms, DynamoDB Local, and the real pipeline in one process: the `rollout` action, the table's stream
// feeding the fleet and authorized handlers (event source mapping settings of serverless.yml), the simulator's
// audit queue pushing encrypted results to the real message handler over HTTP. Prints and reports WeChat calls
// per account, DynamoDB calls per account, the wall time to "all submitted" and "all released", and the peak of
// WeChat calls in flight. 10,000 accounts do not fit a bench run on a shared 2-core machine (DynamoDB Local is
// the bottleneck, not the rollout), so the default is 1,000 and the 10,000 figure is an extrapolation, labelled
// as such: the steps run at a fixed concurrency, so the time grows linearly with the number of accounts.
// `node bench/rollout.ts [accounts] [latencyMs]`
import { availableParallelism, loadavg } from 'node:os';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { createHandler as createAuthorizedHandler } from '../functions/authorized/handler.ts';
import { createHandler as createFleetHandler } from '../functions/fleet/handler.ts';
import { createHandler as createMessageHandler } from '../functions/message/handler.ts';
import { simulatorEnv, SIMULATOR_COMPONENT } from '../infra/local/credentials.ts';
import { ensureTable, localClient, startDynamoLocal } from '../infra/local/dynamodb.ts';
import { startSimulator } from '../infra/local/simulator/index.ts';
import { startStreamPoller, streamSettingsFromServerless } from '../infra/local/stream-poller.ts';
import { FLEET_ACTIONS } from '../lib/fleet/actions.ts';
import { FLEET_CONCURRENCY } from '../lib/fleet/records.ts';
import { createMessageHandlerRegistry } from '../lib/intake/message-handlers.ts';
import { createLogger } from '../lib/kernel/logger.ts';
import { loadConfig } from '../lib/runtime/config.ts';
import type { HttpEvent } from '../lib/runtime/http.ts';
import { createWeChatDeps } from '../lib/runtime/wechat-deps.ts';
import { authorizerKey, listKeys } from '../lib/store/keys.ts';
import { saveVerifyTicket } from '../lib/store/tickets.ts';
import { tokenItem } from '../lib/store/tokens.ts';
import { createWeChatClient, type WeChatClient } from '../lib/wechat/client.ts';
import { httpFunction } from '../tests/helpers/lambda.ts';
import { startPlatformServer, type Route } from '../tests/helpers/platform-server.ts';
import { report, round } from './lib.ts';

const COMMAND = 'node bench/rollout.ts';
const ACCOUNTS = Number(process.argv[2] ?? 1_000);
const FLEET_SIZE = 10_000;
const LATENCY_MS = Number(process.argv[3] ?? 50);
const say = (line: string) => process.stdout.write(`${line}\n`);
const nowS = () => Math.floor(Date.now() / 1000);
const load = () =>
  `load average ${loadavg()
    .map((l) => round(l, 1))
    .join(' ')} on ${availableParallelism()} CPUs`;

/** DynamoDB calls by command with their total latency, on the one client every handler shares. */
const countOperations = (doc: DynamoDBDocumentClient) => {
  const stats = new Map<string, { count: number; totalMs: number }>();
  doc.middlewareStack.add(
    (next, ctx) => async (args) => {
      const startedAt = performance.now();
      try {
        return await next(args);
      } finally {
        const entry = stats.get(ctx.commandName ?? '?') ?? { count: 0, totalMs: 0 };
        entry.count += 1;
        entry.totalMs += performance.now() - startedAt;
        stats.set(ctx.commandName ?? '?', entry);
      }
    },
    { step: 'initialize', name: 'benchOperationCounter' },
  );
  return stats;
};

/** Counts WeChat calls in flight (the peak is the concurrency the rollout puts on WeChat). */
const measureConcurrency = (client: WeChatClient) => {
  const gauge = { now: 0, peak: 0 };
  const wrapped = Object.fromEntries(
    Object.entries(client).map(([name, fn]) => [
      name,
      async (...args: unknown[]) => {
        gauge.now += 1;
        gauge.peak = Math.max(gauge.peak, gauge.now);
        try {
          return await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
        } finally {
          gauge.now -= 1;
        }
      },
    ]),
  ) as unknown as WeChatClient;
  return { wrapped, gauge };
};

const writeItems = async (doc: DynamoDBDocumentClient, tableName: string, items: Record<string, unknown>[]) => {
  const write = async (batch: Record<string, unknown>[]) => {
    let requests = batch.map((Item) => ({ PutRequest: { Item } }));
    while (requests.length > 0) {
      const out = await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
      requests = (out.UnprocessedItems?.[tableName] ?? []) as typeof requests;
    }
  };
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  for (let i = 0; i < batches.length; i += 16) await Promise.all(batches.slice(i, i + 16).map(write));
};

const waitFor = async (done: () => boolean, timeoutMs: number): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
};

const dynamo = await startDynamoLocal();
const routes: Record<string, Route> = {};
const server = await startPlatformServer(routes);
const sim = await startSimulator({ pushUrl: `${server.url}/wechat/component/events`, autoPush: false, ticketIntervalMs: 0 });
const pollers: Awaited<ReturnType<typeof startStreamPoller>>[] = [];
try {
  const tableName = 'bench-rollout';
  await ensureTable(dynamo.endpoint, tableName);
  const doc = DynamoDBDocumentClient.from(localClient(dynamo.endpoint), { marshallOptions: { removeUndefinedValues: true } });
  const config = loadConfig({
    ...simulatorEnv(),
    TABLE_NAME: tableName,
    WECHAT_API_BASE_URL: sim.url,
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    PUBLIC_BASE_URL: server.url,
  });
  const logger = createLogger({ level: 'error', sink: (line) => process.stderr.write(`${line}\n`) });
  const { wrapped, gauge } = measureConcurrency(createWeChatClient({ baseUrl: sim.url, logger }));
  const deps = createWeChatDeps(config, config.secrets!, { doc, logger, wechat: wrapped });

  // Seed: N mini programs authorized (the simulator's accounts, their profiles and live tokens in the table).
  let started = Date.now();
  const now = nowS();
  const appids: string[] = [];
  for (let i = 0; i < ACCOUNTS; i += 1) appids.push((await sim.authorize({ kind: 'miniprogram', push: false })).authorizerAppid);
  const byAppid = new Map(sim.accounts().map((a) => [a.appid, a]));
  const items = appids.flatMap((appid) => {
    const account = byAppid.get(appid)!;
    return [
      {
        ...authorizerKey(appid, 'PROFILE'),
        authorizerAppid: appid,
        status: 'authorized',
        refreshToken: account.refreshToken,
        funcInfo: account.funcInfo,
        info: { nickName: account.nickName, userName: account.userName, isMiniProgram: true },
        authorizedAt: now - 86_400,
        updatedAt: now - 86_400,
        version: 1,
        ...listKeys(appid),
      },
      tokenItem(authorizerKey(appid, 'ACCESS_TOKEN'), { accessToken: sim.issueAccessToken(appid)!, expiresAt: now + 7000 }, now),
    ];
  });
  await writeItems(doc, tableName, items);
  await sim.pushTicket();
  await saveVerifyTicket(deps, { componentAppId: SIMULATOR_COMPONENT.appId, ticket: sim.latestTicket()!, createTime: now - 60 });
  sim.code.setQuota({ rest: ACCOUNTS * 2, limit: ACCOUNTS * 2 });
  sim.code.setAudit({ delayMs: 1000 });
  const messageHandler = httpFunction(
    createMessageHandler(
      deps,
      createMessageHandlerRegistry(async () => undefined),
    ),
    logger,
  );
  for (const appid of appids) {
    routes[`POST /wechat/authorizers/${appid}/callback`] = (event: HttpEvent) => messageHandler({ ...event, pathParameters: { appid } });
  }
  const authorized = createAuthorizedHandler(deps);
  const fleet = createFleetHandler(deps);
  for (const [fn, handler] of [
    ['authorized', authorized],
    ['fleet', fleet],
  ] as const) {
    pollers.push(
      await startStreamPoller({
        endpoint: dynamo.endpoint,
        tableName,
        pollIntervalMs: 50,
        settings: streamSettingsFromServerless(undefined, fn),
        invoke: async (event) => (await handler(event as unknown as DynamoDBStreamEvent)) as { batchItemFailures: { itemIdentifier: string }[] },
      }),
    );
  }
  say(`seeded ${ACCOUNTS} mini programs in ${round((Date.now() - started) / 1000, 1)} s; ${load()}`);

  // Run.
  sim.setLatency(LATENCY_MS);
  sim.resetCounters();
  const ops = countOperations(doc);
  started = Date.now();
  const { rolloutId } = (await FLEET_ACTIONS.rollout!(deps, { templateId: 1, userVersion: '1.0.0', userDesc: 'bench', all: true })) as {
    rolloutId: string;
  };
  const plannedS = (Date.now() - started) / 1000;
  say(`rollout ${rolloutId} planned in ${round(plannedS, 1)} s`);
  const budgetMs = Number(process.env.ROLLOUT_BENCH_BUDGET_S ?? 200) * 1000;
  const submittedOk = await waitFor(() => sim.calls('submit_audit') >= ACCOUNTS, budgetMs);
  const submittedS = (Date.now() - started) / 1000;
  say(`all submitted: ${submittedOk ? `${round(submittedS, 1)} s` : `no (${sim.calls('submit_audit')} after ${round(submittedS, 1)} s)`}; ${load()}`);
  const releasedOk = submittedOk && (await waitFor(() => sim.calls('release') >= ACCOUNTS, budgetMs));
  const releasedS = (Date.now() - started) / 1000;
  say(`all released: ${releasedOk ? `${round(releasedS, 1)} s` : `no (${sim.calls('release')} after ${round(releasedS, 1)} s)`}`);
  for (const p of pollers) await p.drain(60_000).catch(() => undefined);

  const perAccount = (n: number) => round(n / ACCOUNTS, 2);
  const core = sim.calls('commit') + sim.calls('submit_audit') + sim.calls('release');
  const dynamoCalls = [...ops.values()].reduce((a, b) => a + b.count, 0);
  say(`WeChat: ${JSON.stringify(Object.fromEntries([...new Set(sim.callLog.map((c) => c.api))].map((api) => [api, sim.calls(api)])))}`);
  for (const [command, { count, totalMs }] of ops)
    say(`DynamoDB ${command}: ${count} (${perAccount(count)} per account), ${round(totalMs / count, 1)} ms average`);
  say(`DynamoDB: ${dynamoCalls} calls, ${perAccount(dynamoCalls)} per account`);
  say(`peak WeChat calls in flight: ${gauge.peak} (the fleet function steps ${FLEET_CONCURRENCY} accounts at once per stream shard)`);

  const label = `rollout to ${ACCOUNTS} mini programs, ${LATENCY_MS} ms WeChat latency`;
  const note = `in one process on DynamoDB Local, audits passing 1 s after submission; ${load()}`;
  report({ name: `${label}: commit + submit + release calls per account`, value: perAccount(core), unit: 'calls', target: '= 3', command: COMMAND });
  report({
    name: `${label}: all WeChat calls per account`,
    value: perAccount(sim.calls()),
    unit: 'calls',
    target: '<= 3.01',
    command: COMMAND,
    note: 'plus gettemplatelist, queryquota, the component token',
  });
  report({ name: `${label}: DynamoDB calls per account`, value: perAccount(dynamoCalls), unit: 'calls', command: COMMAND, note });
  report({ name: `${label}: wall time to all submitted`, value: round(submittedS, 1), unit: 's', command: COMMAND, note });
  report({ name: `${label}: wall time to all released`, value: round(releasedS, 1), unit: 's', command: COMMAND, note });
  const scale = FLEET_SIZE / ACCOUNTS;
  if (scale > 1) {
    report({
      name: `rollout to ${FLEET_SIZE} mini programs, ${LATENCY_MS} ms WeChat latency: wall time to all submitted (EXTRAPOLATED from ${ACCOUNTS})`,
      value: round(submittedS * scale, 0),
      unit: 's',
      command: COMMAND,
      note: `${round(submittedS, 1)} s × ${scale}: linear, the steps run ${FLEET_CONCURRENCY} at a time; ${note}`,
    });
  }
  report({
    name: `rollout to ${FLEET_SIZE} mini programs: WeChat-latency bound to all submitted (commit + submit, ${FLEET_CONCURRENCY} at a time, computed)`,
    value: round(((FLEET_SIZE / FLEET_CONCURRENCY) * 2 * LATENCY_MS) / 1000, 0),
    unit: 's',
    command: COMMAND,
    note: 'the floor with DynamoDB taking no time; one stream shard (all accounts of a rollout share a partition)',
  });
  report({
    name: `${label}: peak WeChat calls in flight`,
    value: gauge.peak,
    unit: 'calls',
    target: `<= ${FLEET_CONCURRENCY + 1}`,
    command: COMMAND,
  });
  if (!releasedOk || core !== 3 * ACCOUNTS) {
    say(`✖ expected ${3 * ACCOUNTS} commit/submit/release calls and every account released`);
    process.exitCode = 1;
  }
  doc.destroy();
} finally {
  for (const p of pollers) await p.stop();
  await sim.stop();
  await server.close();
  await dynamo.stop();
}
