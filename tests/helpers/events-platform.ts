// The platform with its event delivery, in one process: DynamoDB Local (a fresh table and its real stream),
// the WeChat simulator pushing to the real ticket and message handlers over HTTP, the stream feeding the real
// `authorized` and `events` handlers (one poller each, settings from serverless.yml, as npm start does), and
// the local event bus (infra/local/event-bus.ts) reached through the real EventBridge client, appending every
// accepted entry to a temporary events file, which is what the tests read.
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { createHandler as createAuthorizedHandler } from '../../functions/authorized/handler.ts';
import { createHandler as createEventsHandler } from '../../functions/events/handler.ts';
import { createHandler as createMessageHandler } from '../../functions/message/handler.ts';
import { createHandler as createTicketHandler } from '../../functions/ticket/handler.ts';
import { SIMULATOR_COMPONENT, simulatorEnv } from '../../infra/local/credentials.ts';
import { startEventBus, type LineOfEvent, type LocalEventBus } from '../../infra/local/event-bus.ts';
import { startSimulator, type Simulator } from '../../infra/local/simulator/index.ts';
import { startStreamPoller, streamSettingsFromServerless, type StreamPoller } from '../../infra/local/stream-poller.ts';
import type { Clock } from '../../lib/kernel/clock.ts';
import { createMemoryLogger } from '../../lib/kernel/logger.ts';
import { createMemoryMetrics } from '../../lib/kernel/metrics.ts';
import { createMessageHandlerRegistry } from '../../lib/intake/message-handlers.ts';
import { loadConfig } from '../../lib/runtime/config.ts';
import { createDeps } from '../../lib/runtime/deps.ts';
import { createEventBridgeClient, createEventsDeps, putEventsWith, type EventsDeps } from '../../lib/runtime/events-deps.ts';
import { createWeChatDeps, type WeChatDeps } from '../../lib/runtime/wechat-deps.ts';
import { createTestTable, type TestTable } from './dynamo.ts';
import { startPlatformServer, type PlatformServer, type Route } from './platform-server.ts';

export const BUS = 'wechat-component-test';
export const EVENTS_PATH = '/wechat/component/events';

export interface EventsPlatform {
  readonly table: TestTable;
  readonly sim: Simulator;
  readonly server: PlatformServer;
  readonly bus: LocalEventBus;
  readonly deps: WeChatDeps;
  readonly eventsDeps: EventsDeps;
  readonly logger: ReturnType<typeof createMemoryLogger>;
  readonly metrics: ReturnType<typeof createMemoryMetrics>;
  /** Every line the local bus appended so far. */
  events(): LineOfEvent[];
  /** Waits until both stream consumers have handed over everything written so far. */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

export interface EventsPlatformOptions {
  readonly clock?: Clock;
  /** ACCOUNT_MESSAGE_EVENTS. */
  readonly accountMessageEvents?: string;
  /** Accounts whose message URL is served. */
  readonly messageAppids?: readonly string[];
}

export const startEventsPlatform = async (options: EventsPlatformOptions = {}): Promise<EventsPlatform> => {
  const table = await createTestTable();
  const dir = mkdtempSync(join(tmpdir(), 'events-'));
  const file = join(dir, 'events.jsonl');
  const bus = await startEventBus({ busNames: [BUS], file });
  const routes: { ticket?: Route; message?: Route } = {};
  const server = await startPlatformServer({
    [`POST ${EVENTS_PATH}`]: (event, ctx) => routes.ticket!(event, ctx),
    ...Object.fromEntries(
      (options.messageAppids ?? []).map((appid): [string, Route] => [
        `POST /wechat/authorizers/${appid}/callback`,
        (event, ctx) => routes.message!({ ...event, pathParameters: { appid } }, ctx),
      ]),
    ),
  });
  const sim = await startSimulator({
    pushUrl: `${server.url}${EVENTS_PATH}`,
    autoPush: false,
    ticketIntervalMs: 0,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const config = loadConfig({
    ...simulatorEnv(),
    TABLE_NAME: table.tableName,
    WECHAT_API_BASE_URL: sim.url,
    DYNAMODB_ENDPOINT: table.endpoint,
    PUBLIC_BASE_URL: server.url,
    EVENT_BUS_NAME: BUS,
    AWS_ENDPOINT_URL_EVENTBRIDGE: bus.url,
    ACCOUNT_MESSAGE_EVENTS: options.accountMessageEvents ?? '',
  });
  const logger = createMemoryLogger();
  const metrics = createMemoryMetrics();
  const clock = options.clock ? { clock: options.clock } : {};
  const deps = createWeChatDeps(config, config.secrets!, { doc: table.doc, logger, ...clock });
  const plain = createDeps(config, config.secrets!, { doc: table.doc, logger, ...clock });
  const eventsDeps = createEventsDeps(config, { putEvents: putEventsWith(createEventBridgeClient(config)), logger, metrics, ...clock });
  routes.ticket = createTicketHandler(plain);
  routes.message = createMessageHandler(plain, createMessageHandlerRegistry());
  const authorized = createAuthorizedHandler(deps);
  const events = createEventsHandler(eventsDeps);
  const poller = (fn: string, invoke: (event: DynamoDBStreamEvent) => Promise<unknown>): Promise<StreamPoller> =>
    startStreamPoller({
      endpoint: table.endpoint,
      tableName: table.tableName,
      settings: { ...streamSettingsFromServerless(undefined, fn), maximumRetryAttempts: 4 },
      pollIntervalMs: 25,
      invoke: (event) => invoke(event as unknown as DynamoDBStreamEvent) as never,
    });
  const pollers = [await poller('authorized', authorized), await poller('events', events)];
  await sim.pushTicket();
  const read = (): LineOfEvent[] =>
    existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as LineOfEvent)
      : [];
  return {
    table,
    sim,
    server,
    bus,
    deps,
    eventsDeps,
    logger,
    metrics,
    events: read,
    drain: async () => {
      for (const p of pollers) await p.drain(30_000);
    },
    stop: async () => {
      for (const p of pollers) await p.stop();
      await server.close();
      await sim.stop();
      await bus.stop();
      await table.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

export { SIMULATOR_COMPONENT };
