// The platform for the fleet tests, in one process: DynamoDB Local (a fresh table, a recording and fault-injecting
// client), the WeChat simulator pushing to the REAL ticket and message handlers served over HTTP, and the table's
// stream feeding the REAL authorized and fleet handlers through two pollers with the event source mappings of
// serverless.yml. The sweep (the fleet function's schedule) runs when a test calls it, on a clock the test moves.
import assert from 'node:assert/strict';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBStreamEvent, ScheduledEvent } from 'aws-lambda';
import { createHandler as createAuthorizedHandler } from '../../functions/authorized/handler.ts';
import { createHandler as createFleetHandler } from '../../functions/fleet/handler.ts';
import { createHandler as createMessageHandler } from '../../functions/message/handler.ts';
import { createHandler as createTicketHandler } from '../../functions/ticket/handler.ts';
import { simulatorEnv } from '../../infra/local/credentials.ts';
import { startSimulator, type Simulator } from '../../infra/local/simulator/index.ts';
import { startStreamPoller, streamSettingsFromServerless, type StreamPoller } from '../../infra/local/stream-poller.ts';
import { FLEET_ACTIONS } from '../../lib/fleet/actions.ts';
import type { SweepReport } from '../../lib/fleet/sweep.ts';
import { createMessageHandlerRegistry } from '../../lib/intake/message-handlers.ts';
import { createMemoryLogger } from '../../lib/kernel/logger.ts';
import { loadConfig } from '../../lib/runtime/config.ts';
import type { HttpEvent, HttpResult } from '../../lib/runtime/http.ts';
import { httpFunction } from './lambda.ts';
import { createWeChatDeps, type WeChatDeps } from '../../lib/runtime/wechat-deps.ts';
import { getAuthorizer } from '../../lib/store/authorizers.ts';
import { outboxKey } from '../../lib/store/outbox.ts';
import { createWeChatClient, type WeChatClient } from '../../lib/wechat/client.ts';
import { createTestTable, type TestTable } from './dynamo.ts';
import { faultyDocumentClient, type FaultyDocumentClient } from './faults.ts';
import { startPlatformServer, type PlatformServer, type Route } from './platform-server.ts';

export interface FleetPlatform {
  readonly table: TestTable;
  readonly ddb: FaultyDocumentClient;
  readonly sim: Simulator;
  readonly server: PlatformServer;
  readonly deps: WeChatDeps;
  readonly logger: ReturnType<typeof createMemoryLogger>;
  /** Moves the clock every part shares (platform and simulator) by `s` seconds. */
  advance(s: number): void;
  /** Authorizes `n` simulated mini programs through WeChat's push and waits until their profiles are stored. */
  authorizeMiniPrograms(n: number, input?: { funcInfo?: number[] }): Promise<string[]>;
  action(name: keyof typeof FLEET_ACTIONS, input: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** One run of the fleet function's schedule. */
  sweep(): Promise<SweepReport>;
  /** Waits until both pollers have handed over every record written so far. */
  drain(): Promise<void>;
  /** Polls `read` (draining the stream between polls) until `done` holds; fails after `timeoutMs`. */
  until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs?: number): Promise<T>;
  /** The outbox items written so far, oldest first. */
  events(): Promise<{ detailType: string; detail: Record<string, unknown> }[]>;
  stop(): Promise<void>;
}

const boundary = (deps: WeChatDeps, fn: (event: HttpEvent) => Promise<HttpResult>): Route => {
  const wrapped = httpFunction(fn, deps.logger);
  return (event) => wrapped(event);
};

export interface FleetPlatformOptions {
  /** Wraps the WeChat client (crash and latency injection). */
  wrapWeChat?: (client: WeChatClient) => WeChatClient;
}

export const startFleetPlatform = async (options: FleetPlatformOptions = {}): Promise<FleetPlatform> => {
  let offsetMs = 0;
  const clock = () => Date.now() + offsetMs;
  const table = await createTestTable();
  const ddb = faultyDocumentClient(table.endpoint);
  const logger = createMemoryLogger('debug');
  const routes: Record<string, Route> = {};
  const server = await startPlatformServer(routes);
  const sim = await startSimulator({ pushUrl: `${server.url}/wechat/component/events`, autoPush: false, ticketIntervalMs: 0, clock });
  sim.code.setAudit({ delayMs: 50 });
  const config = loadConfig({
    ...simulatorEnv(),
    TABLE_NAME: table.tableName,
    DYNAMODB_ENDPOINT: table.endpoint,
    WECHAT_API_BASE_URL: sim.url,
    PUBLIC_BASE_URL: server.url,
  });
  const client = createWeChatClient({ baseUrl: sim.url, logger, timeoutMs: 2000, retryBaseMs: 10 });
  const wechat = options.wrapWeChat ? options.wrapWeChat(client) : client;
  const deps = createWeChatDeps(config, config.secrets!, { doc: ddb.doc, logger, wechat, clock });
  routes['POST /wechat/component/events'] = boundary(deps, createTicketHandler(deps));
  const message = boundary(
    deps,
    createMessageHandler(
      deps,
      createMessageHandlerRegistry(async () => undefined),
    ),
  );
  const authorized = createAuthorizedHandler(deps);
  const fleet = createFleetHandler(deps);
  const poller = (fn: 'authorized' | 'fleet', invoke: (event: DynamoDBStreamEvent) => Promise<unknown>) =>
    startStreamPoller({
      endpoint: table.endpoint,
      tableName: table.tableName,
      pollIntervalMs: 30,
      settings: { ...streamSettingsFromServerless(undefined, fn), maximumRetryAttempts: 5 },
      invoke: async (event) => (await invoke(event as unknown as DynamoDBStreamEvent)) as { batchItemFailures: { itemIdentifier: string }[] },
    });
  const pollers: StreamPoller[] = [await poller('authorized', (e) => authorized(e)), await poller('fleet', (e) => fleet(e))];
  const drain = async () => {
    for (const p of pollers) await p.drain(30_000);
  };
  const until: FleetPlatform['until'] = async (read, done, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await drain();
      const value = await read();
      if (done(value)) return value;
      assert.ok(Date.now() < deadline, `condition not reached in ${timeoutMs} ms; last: ${JSON.stringify(value).slice(0, 2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  assert.equal((await sim.pushTicket()).status, 200);
  return {
    table,
    ddb,
    sim,
    server,
    deps,
    logger,
    advance: (s) => {
      offsetMs += s * 1000;
    },
    authorizeMiniPrograms: async (n, input = {}) => {
      const appids: string[] = [];
      for (let i = 0; i < n; i += 1) {
        const { authorizerAppid, pushStatus } = await sim.authorize({ kind: 'miniprogram', ...input });
        assert.equal(pushStatus, 200);
        routes[`POST /wechat/authorizers/${authorizerAppid}/callback`] = (event, ctx) =>
          message({ ...event, pathParameters: { appid: authorizerAppid } }, ctx);
        appids.push(authorizerAppid);
      }
      await until(
        () => Promise.all(appids.map((a) => getAuthorizer(deps, a))),
        (profiles) => profiles.every((p) => p?.info?.isMiniProgram === true),
      );
      return appids;
    },
    action: (name, input) => FLEET_ACTIONS[name]!(deps, input),
    sweep: async () => (await fleet({ 'detail-type': 'Scheduled Event' } as ScheduledEvent)) as SweepReport,
    drain,
    until,
    events: async () => {
      const items = (await table.doc.send(new ScanCommand({ TableName: table.tableName, ConsistentRead: true }))).Items ?? [];
      return items
        .filter((i) => String(i.pk).startsWith(outboxKey('').pk))
        .sort((a, b) => Number(a.occurredAt) - Number(b.occurredAt))
        .map((i) => ({ detailType: String(i.detailType), detail: i.detail as Record<string, unknown> }));
    },
    stop: async () => {
      for (const p of pollers) await p.stop();
      await sim.stop();
      await server.close();
      ddb.close();
      await table.close();
    },
  };
};
