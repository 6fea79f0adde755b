// `npm start`: the whole platform on this machine with no AWS account. DynamoDB Local (unless
// DYNAMODB_ENDPOINT is set) with the table from infra/table.yml, the WeChat simulator (unless
// WECHAT_API_BASE_URL is set), serverless-offline serving the HTTP routes and the refresh schedule, and
// a stream poller per stream consumer (`authorized`, and `events`, which delivers to a local event bus
// writing LOCAL_EVENTS_FILE, default .local/events.jsonl). SIGINT or SIGTERM stops everything it started.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { ensureTable, hasExited, localClient, startDynamoLocal, type DynamoLocal } from './dynamodb.ts';
import { simulatorEnv } from './credentials.ts';
import { startSimulator } from './simulator/index.ts';
import { startStreamPoller, streamConsumersFromServerless, streamSettingsFromServerless } from './stream-poller.ts';
import { invokeOffline, LOCAL_EVENT_BUS, LOCAL_FUNCTION_PREFIX, LOCAL_TABLE, waitForHttp } from './offline.ts';
import { startEventBus } from './event-bus.ts';
import { readLocalEnv } from './local-env.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const env = process.env;
const port = Number(env.PORT ?? 3000);
const lambdaPort = Number(env.OFFLINE_LAMBDA_PORT ?? port + 2);
const say = (tag: string, line: string) => process.stdout.write(`[${tag}] ${line}\n`);

const stops: (() => Promise<void>)[] = [];
let stopping = false;
const stopAll = async (code: number) => {
  if (stopping) return;
  stopping = true;
  say('start', 'stopping everything…');
  for (const stop of stops.reverse()) await stop().catch((e: Error) => say('start', `stop failed: ${e.message}`));
  say('start', 'stopped');
  process.exit(code);
};
// serverless-offline runs in its own process group, so every way a terminal ends must stop it explicitly.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stopAll(0));

/** Signals a whole process group; a group that is already gone is fine. */
const signalGroup = (pgid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: nothing left to stop.
  }
};

// --localEnvironment: the secrets reach the functions only through this process's environment; they are
// never declared in serverless.yml, so they can never end up in a deployed Lambda's environment.
const startOffline = (childEnv: NodeJS.ProcessEnv): ChildProcess => {
  const child = spawn(process.execPath, ['node_modules/serverless/bin/serverless.js', 'offline', 'start', '--localEnvironment'], {
    cwd: ROOT,
    env: childEnv,
    detached: true, // its own process group, so esbuild's helper goes down with it
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const relay = (chunk: Buffer) => {
    for (const l of chunk.toString().split('\n').filter(Boolean)) say('offline', l);
  };
  child.stdout?.on('data', relay);
  child.stderr?.on('data', relay);
  child.on('exit', (code) => {
    if (!stopping) {
      say('start', `serverless-offline exited (${code}); stopping`);
      void stopAll(1);
    }
  });
  stops.push(
    () =>
      new Promise<void>((resolve) => {
        if (hasExited(child) || !child.pid) return resolve();
        child.once('exit', () => resolve());
        signalGroup(child.pid, 'SIGINT');
        setTimeout(() => {
          signalGroup(child.pid!, 'SIGKILL');
          resolve();
        }, 5000).unref();
      }),
  );
  return child;
};

const main = async () => {
  const started = Date.now();
  let endpoint = env.DYNAMODB_ENDPOINT;
  if (!endpoint) {
    const dynamo: DynamoLocal = await startDynamoLocal({ port: Number(env.DYNAMODB_PORT ?? 8000) });
    stops.push(() => dynamo.stop());
    endpoint = dynamo.endpoint;
    say('dynamodb', `DynamoDB Local on ${endpoint}`);
  }
  await ensureTable(endpoint, LOCAL_TABLE);
  say('dynamodb', `table ${LOCAL_TABLE} ready (from infra/table.yml)`);

  const publicBaseUrl = env.PUBLIC_BASE_URL ?? `http://127.0.0.1:${port}`;
  const pushUrl = `http://127.0.0.1:${port}/wechat/component/events`;
  let wechatUrl = env.WECHAT_API_BASE_URL;
  let credentials: Record<string, string> = {};
  let simulator: Awaited<ReturnType<typeof startSimulator>> | undefined;
  if (!wechatUrl) {
    simulator = await startSimulator({
      port: Number(env.SIMULATOR_PORT ?? port + 10),
      pushUrl,
      ticketIntervalMs: Number(env.TICKET_INTERVAL_MS ?? 600_000),
      autoPush: false,
      log: (line) => say('wechat', line),
    });
    stops.push(() => simulator!.stop());
    wechatUrl = simulator.url;
    credentials = simulatorEnv();
    say('wechat', `simulator on ${wechatUrl} (control API under ${wechatUrl}/__sim)`);
  }
  const eventsFile = resolve(ROOT, env.LOCAL_EVENTS_FILE ?? '.local/events.jsonl');
  const bus = await startEventBus({
    port: Number(env.EVENT_BUS_PORT ?? port + 11),
    busNames: [LOCAL_EVENT_BUS],
    file: eventsFile,
    log: (line) => say('events', line),
  });
  stops.push(() => bus.stop());
  say('events', `event bus ${LOCAL_EVENT_BUS} on ${bus.url}; delivered events are appended to ${eventsFile}`);
  const childEnv: NodeJS.ProcessEnv = {
    ...env,
    ...credentials,
    AWS_ENDPOINT_URL_EVENTBRIDGE: bus.url,
    LOCAL_EVENTS_FILE: eventsFile,
    LINK_SIGNING_KEY: linkSigningKey(),
    PORT: String(port),
    OFFLINE_LAMBDA_PORT: String(lambdaPort),
    DYNAMODB_ENDPOINT: endpoint,
    WECHAT_API_BASE_URL: wechatUrl,
    PUBLIC_BASE_URL: publicBaseUrl,
    AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID ?? 'local',
    AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY ?? 'local',
  };
  startOffline(childEnv);
  await waitForHttp(`http://127.0.0.1:${port}/`, 90_000);

  for (const fn of streamConsumersFromServerless()) {
    const poller = await startStreamPoller({
      endpoint,
      tableName: LOCAL_TABLE,
      settings: streamSettingsFromServerless(undefined, fn),
      invoke: (event, signal) => invokeOffline(lambdaPort, `${LOCAL_FUNCTION_PREFIX}${fn}`, event, signal),
      log: (line) => say('stream', `${fn}: ${line}`),
    });
    stops.push(() => poller.stop());
  }

  let demos = 0;
  if (simulator) {
    await simulator.pushTicket();
    demos = await authorizeDemoMiniPrograms(simulator, endpoint);
  }
  writeLocalEnv(childEnv);
  say('start', `ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  say('start', `  POST ${publicBaseUrl}/wechat/component/events            (授权事件接收URL: ticket and authorization pushes)`);
  say('start', `  POST ${publicBaseUrl}/wechat/authorizers/{appid}/callback (消息与事件接收URL)`);
  say('start', `  GET  ${publicBaseUrl}/wechat/component/authorize         (authorization start page: signed links only)`);
  say('start', `  GET  ${publicBaseUrl}/wechat/component/authorized        (landing page)`);
  say('start', `  invoke: set -a; . .local/env; set +a; npx sls invoke local -f token --data '{}'`);
  say('start', '  a start-page link: npm run admin -- authorizationLink --tenant <your customer id>');
  say('start', '  events: npm run events (follows the delivered events)');
  if (demos > 0)
    say(
      'start',
      `  ${demos} simulated mini programs are authorized; try: npm run admin -- rollout --templateId 1 --userVersion 1.0.0 --userDesc demo --all true`,
    );
  say('start', 'Ctrl-C stops everything.');
};

/** A few simulated mini programs authorize at start, so a rollout can be tried at once (docs/fleet.md). */
/**
 * A few simulated mini programs authorize at start, so a rollout can be tried at once (docs/fleet.md). Done before
 * `ready` and waited for until their profiles are stored, so what a user (or a test) does after `ready` meets a
 * quiet table.
 */
const authorizeDemoMiniPrograms = async (simulator: Awaited<ReturnType<typeof startSimulator>>, endpoint: string): Promise<number> => {
  const count = Number(env.SIMULATED_MINI_PROGRAMS ?? 3);
  const appids: string[] = [];
  for (let i = 1; i <= count; i += 1) {
    const { authorizerAppid, pushStatus } = await simulator.authorize({ kind: 'miniprogram', nickName: `Demo mini program ${i}` });
    say('wechat', `mini program ${authorizerAppid} authorized (push answered ${pushStatus})`);
    appids.push(authorizerAppid);
  }
  const client = localClient(endpoint);
  const stored = async (appid: string) => {
    const { Item } = await client.send(
      new GetItemCommand({ TableName: LOCAL_TABLE, Key: { pk: { S: `AUTHORIZER#${appid}` }, sk: { S: 'PROFILE' } }, ConsistentRead: true }),
    );
    return Item?.info !== undefined;
  };
  for (let waited = 0; waited < 60_000; waited += 250) {
    if ((await Promise.all(appids.map(stored))).every(Boolean)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  client.destroy();
  return count;
};

const localEnvFile = () => env.LOCAL_ENV_FILE ?? `${ROOT}.local/env`;

/**
 * The key of the signed authorization links (docs/operations.md): the shell's, else the one a previous run wrote
 * to .local/env (so links printed by `npm run admin` survive a restart), else 32 fresh random bytes.
 */
const linkSigningKey = (): string => {
  if (env.LINK_SIGNING_KEY) return env.LINK_SIGNING_KEY;
  const kept = readLocalEnv(localEnvFile()).LINK_SIGNING_KEY;
  say('start', kept ? 'LINK_SIGNING_KEY: the one in .local/env' : 'LINK_SIGNING_KEY: generated (kept in .local/env for the next run)');
  return kept || randomBytes(32).toString('base64url');
};

const writeLocalEnv = (childEnv: NodeJS.ProcessEnv) => {
  const keys = [
    'COMPONENT_APPID',
    'COMPONENT_APPSECRET',
    'COMPONENT_TOKEN',
    'COMPONENT_ENCODING_AES_KEY',
    'LINK_SIGNING_KEY',
    'DYNAMODB_ENDPOINT',
    'WECHAT_API_BASE_URL',
    'PUBLIC_BASE_URL',
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_ENDPOINT_URL_EVENTBRIDGE',
    'LOCAL_EVENTS_FILE',
  ];
  // For `sls invoke local` and `npm run release-check` in another terminal; local simulator values only, and
  // .local/ is git-ignored. Tests that run npm start point LOCAL_ENV_FILE elsewhere so they never clobber it.
  const file = localEnvFile();
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(
    file,
    `${keys
      .filter((k) => childEnv[k])
      .map((k) => `${k}=${childEnv[k]}`)
      .join('\n')}\n`,
    { mode: 0o600 },
  );
};

main().catch((error: Error) => {
  say('start', `failed: ${error.message}`);
  void stopAll(1);
});
