// The whole platform in one process for the reliability tests: DynamoDB Local (a fresh table), the WeChat
// simulator (a real HTTP server) pushing to the REAL ticket/message/authorize handlers served over HTTP,
// the table's stream feeding the REAL authorized handler (partial-batch retries as in AWS), and the token
// and refresh handlers invoked directly. Every handler logs through one captured logger; the DynamoDB client
// is a faulty one (tests/helpers/faults.ts) and the WeChat client has a short timeout, so faults are cheap.
import assert from 'node:assert/strict';
import { GetCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, DynamoDBStreamEvent, ScheduledEvent } from 'aws-lambda';
import { createHandler as createAuthorizeHandler } from '../../functions/authorize/handler.ts';
import { createHandler as createAuthorizedHandler } from '../../functions/authorized/handler.ts';
import { createHandler as createMessageHandler } from '../../functions/message/handler.ts';
import { createHandler as createRefreshHandler } from '../../functions/refresh/handler.ts';
import { createHandler as createTicketHandler } from '../../functions/ticket/handler.ts';
import { createHandler as createTokenHandler } from '../../functions/token/handler.ts';
import { SIMULATOR_COMPONENT } from '../../infra/local/credentials.ts';
import { startSimulator, type Simulator } from '../../infra/local/simulator/index.ts';
import { startStreamPoller, streamSettingsFromServerless, type StreamPoller } from '../../infra/local/stream-poller.ts';
import type { Clock } from '../../lib/kernel/clock.ts';
import type { WeChatDeps } from '../../lib/runtime/wechat-deps.ts';
import type { HttpEvent, HttpResult } from '../../lib/runtime/http.ts';
import { createMemoryLogger } from '../../lib/kernel/logger.ts';
import { createMessageHandlerRegistry } from '../../lib/intake/message-handlers.ts';
import { authorizerKey } from '../../lib/store/keys.ts';
import { createWeChatClient } from '../../lib/wechat/client.ts';
import { context } from '../helpers/context.ts';
import { createTestTable, type TestTable } from '../helpers/dynamo.ts';
import { faultyDocumentClient, type FaultyDocumentClient } from '../helpers/faults.ts';
import { startPlatformServer, type PlatformServer, type Route } from '../helpers/platform-server.ts';
import { httpFunction, invokeFunction } from '../helpers/lambda.ts';
import { worldWeChatDeps } from '../helpers/world.ts';

export const COMPONENT = SIMULATOR_COMPONENT;
/** Short enough that a timeout costs little; long enough for DynamoDB Local and the simulator on a loaded 2-core box. */
export const CLIENT_TIMEOUT_MS = 800;

export interface PlatformOptions {
  clock?: Clock;
  /** WeChat client: attempts after the first on -1 / unsent requests (default 2, as in production). */
  maxRetries?: number;
  /** Accounts whose message URL is served (path /wechat/authorizers/<appid>/callback). */
  messageAppids?: readonly string[];
  /** Start the stream poller feeding `authorized` (default true). */
  stream?: boolean;
  streamRetries?: number;
  /** WeChat client timeout per attempt (default CLIENT_TIMEOUT_MS). */
  clientTimeoutMs?: number;
  /** Called after the stream delivered a batch that reported failures (e.g. to let time pass before the retry). */
  onFailedBatch?: () => void;
}

export interface Platform {
  readonly table: TestTable;
  readonly ddb: FaultyDocumentClient;
  readonly sim: Simulator;
  readonly server: PlatformServer;
  readonly deps: WeChatDeps;
  readonly logger: ReturnType<typeof createMemoryLogger>;
  readonly stream: StreamPoller | undefined;
  /** Every batch the stream delivered to `authorized`, with the failures it reported. */
  readonly batches: { records: number; failed: number }[];
  ticketUrl: string;
  authorizeUrl(path: string): string;
  messageUrl(appid: string): string;
  token(payload: unknown): Promise<Record<string, unknown>>;
  refresh(): Promise<Record<string, unknown>>;
  /** GET on the platform server (start page, landing page). */
  get(pathAndQuery: string): Promise<{ status: number; body: string }>;
  /** Waits until the stream has handed every record written so far to `authorized`. */
  drain(timeoutMs?: number): Promise<void>;
  item(key: { pk: string; sk: string }): Promise<Record<string, unknown> | undefined>;
  profile(appid: string): Promise<Record<string, unknown> | undefined>;
  items(): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

const withBoundary = <D extends WeChatDeps>(deps: D, fn: (event: HttpEvent) => Promise<HttpResult>): Route => {
  const wrapped = httpFunction(fn, deps.logger);
  return (event) => wrapped(event);
};

const messageRoute = (deps: WeChatDeps, appid: string): Route => {
  const registry = createMessageHandlerRegistry(async () => undefined);
  const route = withBoundary(deps, createMessageHandler(deps, registry));
  return (event, ctx) => route({ ...event, pathParameters: { appid } }, ctx);
};

export const startPlatform = async (options: PlatformOptions = {}): Promise<Platform> => {
  const table = await createTestTable();
  const ddb = faultyDocumentClient(table.endpoint);
  const logger = createMemoryLogger('debug');
  const routes: Record<string, Route> = {};
  const server = await startPlatformServer(routes);
  const sim = await startSimulator({
    pushUrl: `${server.url}/wechat/component/events`,
    autoPush: false,
    ticketIntervalMs: 0,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const wechat = createWeChatClient({
    baseUrl: sim.url,
    logger,
    timeoutMs: options.clientTimeoutMs ?? CLIENT_TIMEOUT_MS,
    maxRetries: options.maxRetries ?? 2,
    retryBaseMs: 10,
  });
  const deps = worldWeChatDeps(table, {
    wechatUrl: sim.url,
    publicBaseUrl: server.url,
    doc: ddb.doc,
    logger,
    wechat,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  routes['POST /wechat/component/events'] = withBoundary(deps, createTicketHandler(deps));
  const authorize = withBoundary(deps, createAuthorizeHandler(deps));
  routes['GET /wechat/component/authorize'] = authorize;
  routes['GET /wechat/component/authorized'] = authorize;
  for (const appid of options.messageAppids ?? []) routes[`POST /wechat/authorizers/${appid}/callback`] = messageRoute(deps, appid);
  const authorized = createAuthorizedHandler(deps);
  const batches: Platform['batches'] = [];
  const settings = { ...streamSettingsFromServerless(), maximumRetryAttempts: options.streamRetries ?? 3 };
  const stream =
    options.stream === false
      ? undefined
      : await startStreamPoller({
          endpoint: table.endpoint,
          tableName: table.tableName,
          pollIntervalMs: 40,
          settings,
          invoke: async (event) => {
            const result = await authorized(event as unknown as DynamoDBStreamEvent);
            batches.push({ records: event.Records.length, failed: result.batchItemFailures.length });
            if (result.batchItemFailures.length > 0) options.onFailedBatch?.();
            return result;
          },
        });
  const tokenHandler = invokeFunction(createTokenHandler(deps), logger);
  const refreshHandler = createRefreshHandler(deps);
  const read = async (key: { pk: string; sk: string }) =>
    (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: key, ConsistentRead: true }))).Item;
  return {
    table,
    ddb,
    sim,
    server,
    deps,
    logger,
    stream,
    batches,
    ticketUrl: `${server.url}/wechat/component/events`,
    authorizeUrl: (path) => `${server.url}${path}`,
    messageUrl: (appid) => `${server.url}/wechat/authorizers/${appid}/callback`,
    token: async (payload) => (await tokenHandler(payload)) as unknown as Record<string, unknown>,
    refresh: async () =>
      (await refreshHandler({} as ScheduledEvent, { ...context, getRemainingTimeInMillis: () => 60_000 } as Context)) as unknown as Record<
        string,
        unknown
      >,
    get: async (pathAndQuery) => {
      const response = await fetch(`${server.url}${pathAndQuery}`, { redirect: 'manual' });
      return { status: response.status, body: await response.text() };
    },
    drain: async (timeoutMs = 20_000) => {
      if (stream) await stream.drain(timeoutMs);
    },
    item: read,
    profile: (appid) => read(authorizerKey(appid, 'PROFILE')),
    items: async () => (await table.doc.send(new ScanCommand({ TableName: table.tableName, ConsistentRead: true }))).Items ?? [],
    stop: async () => {
      await stream?.stop();
      await sim.stop();
      await server.close();
      ddb.close();
      await table.close();
    },
  };
};

/** Every item of one partition (consistent). */
export const partition = async (p: Platform, pk: string): Promise<Record<string, unknown>[]> =>
  (
    await p.table.doc.send(
      new QueryCommand({
        TableName: p.table.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ConsistentRead: true,
      }),
    )
  ).Items ?? [];

/** Moves the tests' clock forward (each test file's clock is Date.now() plus an offset it owns). */
export type Advance = (ms: number) => void;

/** A ticket push in a later second than the last one (a ticket is replaced only by a newer CreateTime). */
export const pushTicket = async (p: Platform, advance: Advance): Promise<void> => {
  advance(1000);
  assert.equal((await p.sim.pushTicket()).status, 200);
};

/** Moves past every token's lifetime and pushes a fresh ticket, as WeChat does every 10 minutes. */
export const expireEverything = async (p: Platform, advance: Advance): Promise<void> => {
  advance(7300 * 1000);
  await pushTicket(p, advance);
};

/** The refresh token WeChat (the simulator) currently holds for an account. */
export const simRefreshToken = (p: Platform, appid: string) => p.sim.accounts().find((a) => a.appid === appid)?.refreshToken;
