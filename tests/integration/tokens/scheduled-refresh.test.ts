// The scheduled refresh against DynamoDB Local and the WeChat simulator. A thin node:http proxy in front of the
// simulator counts api_authorizer_token calls per account and answers chosen accounts with a WeChat error,
// which the simulator (errors injected per API, not per account) cannot do.
import assert from 'node:assert/strict';
import type { ScheduledEvent } from 'aws-lambda';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { BatchGetCommand, BatchWriteCommand, DeleteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createHandler, type WorkerEvent } from '../../../functions/refresh/handler.ts';
import { startLambdaEndpoint, type LambdaEndpoint } from '../../../infra/local/lambda-endpoint.ts';
import { BadRequestError } from '../../../lib/kernel/errors.ts';
import { lambdaStartRun } from '../../../lib/runtime/self-invoke.ts';
import { simulatorEnv, SIMULATOR_COMPONENT } from '../../../infra/local/credentials.ts';
import { startSimulator, type Simulator } from '../../../infra/local/simulator/index.ts';
import { loadConfig } from '../../../lib/runtime/config.ts';
import { createWeChatDeps } from '../../../lib/runtime/wechat-deps.ts';
import { createMemoryLogger } from '../../../lib/kernel/logger.ts';
import { createMemoryMetrics } from '../../../lib/kernel/metrics.ts';
import { ALL_SHARDS, failureKey, runRefresh, shardGroups, type RefreshDeps } from '../../../lib/tokens/scheduled-refresh.ts';
import { NeedsReauthError, TokenBusyError } from '../../../lib/tokens/errors.ts';
import { getAuthorizer, getAuthorizerState } from '../../../lib/store/authorizers.ts';
import { listDueAuthorizers, type DueCursor } from '../../../lib/store/schedule.ts';
import { authorizerKey, listKeys } from '../../../lib/store/keys.ts';
import { nextRefreshFor, scheduleAttributes } from '../../../lib/store/schedule.ts';
import { saveVerifyTicket } from '../../../lib/store/tickets.ts';
import { tokenItem } from '../../../lib/store/tokens.ts';
import { WeChatApiError, WeChatNetworkError } from '../../../lib/wechat/errors.ts';
import refreshEvent from '../../events/refresh.json' with { type: 'json' };
import { context } from '../../helpers/context.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { dueEverywhere } from '../../helpers/schedule.ts';

const scheduledEvent = refreshEvent as ScheduledEvent;
const nowS = () => Math.floor(Date.now() / 1000);
/** Inside the window of a run starting now; the rest expire long after it. */
const DUE_IN_S = 120;
const LATER_S = 3600;

interface FaultyWeChat {
  readonly url: string;
  /** Authorizer appid → errcode every api_authorizer_token call for it answers. */
  readonly faults: Map<string, number>;
  /** api_authorizer_token calls per authorizer appid, faulted ones included. */
  readonly tokenCalls: Map<string, number>;
  totalTokenCalls(): number;
  /** The most api_authorizer_token requests ever open at once. */
  maxInFlight(): number;
  close(): Promise<void>;
}

const readBody = async (request: AsyncIterable<Buffer>): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk);
  return Buffer.concat(chunks);
};

const startFaultyWeChat = async (upstream: string): Promise<FaultyWeChat> => {
  const faults = new Map<string, number>();
  const tokenCalls = new Map<string, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  const server: Server = createServer((request, response) => {
    void (async () => {
      const body = await readBody(request);
      if (request.url?.startsWith('/cgi-bin/component/api_authorizer_token')) {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        response.once('close', () => (inFlight -= 1));
        const appid = String((JSON.parse(body.toString('utf8')) as { authorizer_appid?: unknown }).authorizer_appid);
        tokenCalls.set(appid, (tokenCalls.get(appid) ?? 0) + 1);
        const errcode = faults.get(appid);
        if (errcode !== undefined) {
          response.writeHead(200, { 'content-type': 'application/json' });
          return response.end(JSON.stringify({ errcode, errmsg: `injected for ${appid} rid: 0-0-0` }));
        }
      }
      const answer = await fetch(`${upstream}${request.url}`, { method: request.method, headers: { 'content-type': 'application/json' }, body });
      response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
      response.end(Buffer.from(await answer.arrayBuffer()));
    })().catch(() => response.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    faults,
    tokenCalls,
    totalTokenCalls: () => [...tokenCalls.values()].reduce((a, b) => a + b, 0),
    maxInFlight: () => maxInFlight,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};

interface World {
  readonly table: TestTable;
  readonly sim: Simulator;
  readonly wechat: FaultyWeChat;
  readonly deps: RefreshDeps;
  readonly logger: ReturnType<typeof createMemoryLogger>;
  readonly metrics: ReturnType<typeof createMemoryMetrics>;
  close(): Promise<void>;
}

/** A table, a simulator with a pushed ticket (also stored), the proxy, and deps pointing at both. */
const createWorld = async (options: { ticket?: boolean } = {}): Promise<World> => {
  const table = await createTestTable();
  const sim = await startSimulator({ port: 0 });
  const wechat = await startFaultyWeChat(sim.url);
  const config = loadConfig({
    ...simulatorEnv(),
    TABLE_NAME: table.tableName,
    WECHAT_API_BASE_URL: wechat.url,
    DYNAMODB_ENDPOINT: table.endpoint,
    PUBLIC_BASE_URL: 'http://127.0.0.1:9',
  });
  const logger = createMemoryLogger('info');
  const metrics = createMemoryMetrics();
  const base = createWeChatDeps(config, config.secrets!, { doc: table.doc, logger });
  const deps: RefreshDeps = { ...base, metrics };
  await sim.pushTicket();
  if (options.ticket !== false)
    await saveVerifyTicket(deps, { componentAppId: SIMULATOR_COMPONENT.appId, ticket: sim.latestTicket()!, createTime: nowS() - 90 });
  const close = async () => {
    await wechat.close();
    await sim.stop();
    await table.close();
  };
  return { table, sim, wechat, deps, logger, metrics, close };
};

const writeItems = async (table: TestTable, items: Record<string, unknown>[]): Promise<void> => {
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  const writeBatch = async (batch: Record<string, unknown>[]) => {
    let requests = batch.map((Item) => ({ PutRequest: { Item } }));
    while (requests.length > 0) {
      const out = await table.doc.send(new BatchWriteCommand({ RequestItems: { [table.tableName]: requests } }));
      requests = (out.UnprocessedItems?.[table.tableName] ?? []) as typeof requests;
    }
  };
  for (let i = 0; i < batches.length; i += 16) await Promise.all(batches.slice(i, i + 16).map(writeBatch));
};

type Status = 'authorized' | 'unauthorized' | 'needs_reauth';

/** A profile as the store writes it: listed, and on the schedule ahead of its token's expiry while authorized. */
const profileItem = (appid: string, refreshToken: string, status: Status, tokenExpiresAt: number, scheduled = status === 'authorized') => ({
  ...authorizerKey(appid, 'PROFILE'),
  authorizerAppid: appid,
  status,
  refreshToken,
  funcInfo: [1, 2, 15],
  authorizedAt: nowS() - 86_400,
  updatedAt: nowS() - 86_400,
  version: 1,
  ...listKeys(appid),
  ...(scheduled ? scheduleAttributes(appid, nextRefreshFor(tokenExpiresAt)) : {}),
});

/**
 * Authorizes `count` accounts in the simulator and stores each one's profile and access token directly:
 * the first `due` tokens expire within the next run's window, the others an hour or more later.
 */
const seedAccounts = async (
  world: World,
  count: number,
  due: number,
  status: Status = 'authorized',
  options: { scheduled?: boolean } = {},
): Promise<string[]> => {
  const authorized = await Promise.all(Array.from({ length: count }, () => world.sim.authorize({ push: false })));
  const refreshTokens = new Map(world.sim.accounts().map((a) => [a.appid, a.refreshToken ?? '']));
  const appids = authorized.map((a) => a.authorizerAppid);
  const now = nowS();
  const items = appids.flatMap((appid, i) => {
    const expiresAt = i < due ? now + DUE_IN_S + (i % 60) : now + LATER_S + (i % 3000);
    const token = tokenItem(authorizerKey(appid, 'ACCESS_TOKEN'), { accessToken: `seeded-${appid}`, expiresAt }, now - 7000);
    return [profileItem(appid, refreshTokens.get(appid)!, status, expiresAt, options.scheduled ?? status === 'authorized'), token];
  });
  await writeItems(world.table, items);
  return appids;
};

const storedAccessTokens = async (table: TestTable, appids: string[]): Promise<Map<string, string>> => {
  const tokens = new Map<string, string>();
  for (let i = 0; i < appids.length; i += 100) {
    const Keys = appids.slice(i, i + 100).map((appid) => authorizerKey(appid, 'ACCESS_TOKEN'));
    const out = await table.doc.send(new BatchGetCommand({ RequestItems: { [table.tableName]: { Keys } } }));
    for (const item of out.Responses?.[table.tableName] ?? []) tokens.set(String(item.pk).slice('AUTHORIZER#'.length), String(item.accessToken));
  }
  return tokens;
};

/** Read capacity of listing every entry of the due index, for comparison with a run's query. */
const fullIndexCapacity = async (world: World): Promise<number> => {
  let consumed = 0;
  for (const shard of ALL_SHARDS) {
    let cursor: DueCursor | undefined;
    do {
      const page = await listDueAuthorizers(world.deps, { dueBefore: nowS() + 86_400, shard, exclusiveStartKey: cursor });
      consumed += page.consumedCapacity;
      cursor = page.lastKey;
    } while (cursor);
  }
  return consumed;
};

describe('refresh.runRefresh with 2,000 authorizers of which 200 are due', () => {
  let world: World;
  let appids: string[];
  let tokensBefore: Map<string, string>;
  let summary: Awaited<ReturnType<typeof runRefresh>>;
  before(async () => {
    world = await createWorld();
    appids = await seedAccounts(world, 2000, 200);
    tokensBefore = await storedAccessTokens(world.table, appids);
    // WeChat answering in 30 ms, not instantly, so the refreshes visibly overlap.
    world.sim.setLatency(30, 'api_authorizer_token');
    summary = await runRefresh(world.deps);
  });
  after(async () => world.close());

  it('calls api_authorizer_token exactly once for each of the 200 due accounts and for no other', async () => {
    // Assess
    assert.equal(summary.component, 'refreshed');
    assert.equal(summary.due, 200);
    assert.equal(summary.refreshed, 200);
    assert.deepEqual(summary.failed, {});
    assert.deepEqual(summary.skipped, { fresh: 0, leased: 0, inactive: 0 });
    assert.equal(summary.stoppedEarly, false);
    assert.equal(world.sim.calls('api_authorizer_token'), 200);
    assert.equal(world.sim.calls('api_component_token'), 1);
    assert.deepEqual([...world.wechat.tokenCalls.keys()].sort(), appids.slice(0, 200).sort());
    assert.ok(
      [...world.wechat.tokenCalls.values()].every((n) => n === 1),
      'one call per account',
    );
  });

  it('keeps at most config.refreshConcurrency (16) refreshes in flight, and more than one', (t) => {
    // Assess
    t.diagnostic(`at most ${world.wechat.maxInFlight()} api_authorizer_token calls were open at once`);
    assert.equal(world.deps.config.refreshConcurrency, 16);
    assert.ok(world.wechat.maxInFlight() <= 16, `${world.wechat.maxInFlight()} in flight`);
    assert.ok(world.wechat.maxInFlight() > 1, 'the refreshes ran in parallel');
  });

  it('replaces the 200 due tokens and leaves the other 1,800 untouched', async () => {
    // Act
    const after = await storedAccessTokens(world.table, appids);
    // Assess
    assert.ok(
      appids.slice(0, 200).every((a) => after.get(a) !== tokensBefore.get(a) && after.get(a)),
      'every due token was replaced',
    );
    assert.ok(
      appids.slice(200).every((a) => after.get(a) === tokensBefore.get(a)),
      'no other token was touched',
    );
  });

  it('reads capacity in proportion to the 200 due entries, not the 2,000 stored', async (t) => {
    // Act
    const all = await fullIndexCapacity(world);
    // Assess
    t.diagnostic(`due query: ${summary.consumedCapacity} RCU for 200 due; whole index: ${all} RCU for 2,000 entries`);
    assert.ok(summary.consumedCapacity > 0, 'the run reports what its query consumed');
    // Each of the 17 partitions' queries costs at least 0.5 RCU, however little it returns: that floor plus the
    // 200 small KEYS_ONLY entries is at most 1 RCU a partition, well under reading the whole index.
    assert.ok(summary.consumedCapacity <= ALL_SHARDS.length, `200 due cost ${summary.consumedCapacity} RCU over ${ALL_SHARDS.length} partitions`);
    assert.ok(summary.consumedCapacity * 2 < all, `200 due cost ${summary.consumedCapacity} RCU; all 2,000 cost ${all} RCU`);
  });

  it('emits the run as metrics: due, refreshed, ticket age and component token lifetime', () => {
    // Assess
    const dims = { ComponentAppId: SIMULATOR_COMPONENT.appId };
    assert.equal(world.metrics.sum('RefreshDue'), 200);
    assert.equal(world.metrics.sum('AuthorizerRefreshed'), 200);
    assert.equal(world.metrics.sum('ComponentTokenRefreshFailed', dims), 0);
    const ticketAge = world.metrics.sum('TicketAgeSeconds', dims);
    assert.ok(ticketAge >= 90 && ticketAge < 150, `ticket age ${ticketAge}`);
    const remaining = world.metrics.sum('ComponentTokenRemainingSeconds', dims);
    assert.ok(remaining > 7100 && remaining <= 7200, `component token remaining ${remaining}`);
    const componentDoc = world.metrics.documents().find((d) => 'ComponentTokenRemainingSeconds' in d) as {
      _aws: { CloudWatchMetrics: { Dimensions: unknown }[] };
    };
    assert.deepEqual(componentDoc._aws.CloudWatchMetrics[0]?.Dimensions, [['ComponentAppId'], []], 'also dimensionless, as the alarms watch it');
  });

  it('logs the summary of the run', () => {
    // Assess
    const line = world.logger.records().find((r) => r.event === 'refresh.completed');
    assert.equal(line?.due, 200);
    assert.equal(line?.refreshed, 200);
    assert.equal(line?.stoppedEarly, false);
    assert.equal(typeof line?.durationMs, 'number');
  });

  it('does nothing on a second run right after', async () => {
    // Prepare
    world.sim.resetCounters();
    // Act
    const second = await runRefresh(world.deps);
    // Assess
    assert.equal(second.component, 'fresh');
    assert.equal(second.due, 0);
    assert.equal(second.refreshed, 0);
    assert.equal(world.sim.calls(), 0);
  });
});

describe('refresh.runRefresh isolates failing accounts', () => {
  let world: World;
  let appids: string[];
  let summary: Awaited<ReturnType<typeof runRefresh>>;
  before(async () => {
    world = await createWorld();
    appids = await seedAccounts(world, 20, 20);
    // 45009 stops the whole run (the circuit breaker): its own test below.
    world.wechat.faults.set(appids[0]!, 61023);
    world.wechat.faults.set(appids[2]!, -1);
    await world.sim.unauthorize(appids[3]!, { push: false });
    summary = await runRefresh(world.deps);
  });
  after(async () => world.close());

  it('refreshes every other account and counts the failures by errcode', () => {
    // Assess
    assert.equal(summary.due, 20);
    assert.equal(summary.refreshed, 17);
    assert.deepEqual(summary.failed, { '61023': 1, '-1': 1, '61003': 1 });
    assert.ok([appids[1]!, ...appids.slice(4)].every((a) => world.wechat.tokenCalls.get(a) === 1));
  });

  it('records an account that revoked the component (61003) as unauthorized and drops it from the due index', async () => {
    // Assess
    assert.equal((await getAuthorizer(world.deps, appids[3]!))?.status, 'unauthorized');
    assert.equal((await dueEverywhere(world.deps, nowS() + 86_400)).includes(appids[3]!), false);
  });

  it('marks the account whose refresh token cannot be recovered as needs_reauth', async () => {
    // Assess
    assert.equal((await getAuthorizer(world.deps, appids[0]!))?.status, 'needs_reauth');
    assert.ok(world.sim.calls('api_get_authorizer_list') >= 1, 'the recovery path asked api_get_authorizer_list');
    assert.equal(world.metrics.sum('NeedsReauth'), 1);
  });

  it('retries a busy account (-1) on the next run, and the needs_reauth one is off the schedule', async () => {
    // Prepare
    world.wechat.faults.delete(appids[2]!);
    world.wechat.tokenCalls.clear();
    // Act
    const next = await runRefresh(world.deps);
    // Assess
    assert.equal(next.due, 1, 'the -1 account');
    assert.equal(next.refreshed, 1);
    assert.deepEqual(next.failed, {});
    assert.equal(next.skipped.inactive, 0);
    assert.equal(world.wechat.tokenCalls.get(appids[0]!), undefined, 'no call for the needs_reauth account');
    assert.equal(world.wechat.tokenCalls.get(appids[2]!), 1);
  });
});

describe('refresh.runRefresh and accounts that are not authorized', () => {
  let world: World;
  after(async () => world.close());

  it('never refreshes an unauthorized or needs_reauth account, even with a due token: neither is on the schedule', async () => {
    // Prepare
    world = await createWorld();
    const inactive = [...(await seedAccounts(world, 2, 2, 'unauthorized')), ...(await seedAccounts(world, 2, 2, 'needs_reauth'))];
    const [active] = await seedAccounts(world, 1, 1);
    // Act
    const summary = await runRefresh(world.deps);
    // Assess
    assert.equal(summary.due, 1);
    assert.equal(summary.refreshed, 1);
    assert.deepEqual([...world.wechat.tokenCalls.keys()], [active]);
    for (const appid of inactive) assert.notEqual((await getAuthorizer(world.deps, appid))?.status, 'authorized');
  });

  it('skips an inactive account still on the schedule (written before the schedule moved) once, and takes it off', async () => {
    // Prepare
    const [stale] = await seedAccounts(world, 1, 1, 'needs_reauth', { scheduled: true });
    world.wechat.tokenCalls.clear();
    // Act
    const first = await runRefresh(world.deps);
    const second = await runRefresh(world.deps);
    // Assess
    assert.deepEqual([first.due, first.skipped.inactive, second.due], [1, 1, 0]);
    assert.equal(world.wechat.tokenCalls.get(stale!), undefined);
    assert.equal((await getAuthorizer(world.deps, stale!))?.nextRefreshAt, undefined);
  });
});

describe('refresh.runRefresh: the schedule never forgets an account', () => {
  let world: World;
  after(async () => world.close());

  it('refreshes an account whose token item is gone (TTL) and one whose token expired unrefreshed, on the next run', async () => {
    // Prepare: two accounts due; one token deleted as TTL would, the other long expired (refreshes failed for hours).
    world = await createWorld();
    const [gone, expired] = await seedAccounts(world, 2, 2);
    await world.table.doc.send(new DeleteCommand({ TableName: world.table.tableName, Key: authorizerKey(gone!, 'ACCESS_TOKEN') }));
    const longAgo = nowS() - 6 * 3600;
    await writeItems(world.table, [
      tokenItem(authorizerKey(expired!, 'ACCESS_TOKEN'), { accessToken: `old-${expired}`, expiresAt: longAgo }, longAgo - 7200),
    ]);
    // Act
    const first = await runRefresh(world.deps);
    const second = await runRefresh(world.deps);
    // Assess
    assert.deepEqual([first.due, first.refreshed, first.failed], [2, 2, {}]);
    assert.deepEqual([world.wechat.tokenCalls.get(gone!), world.wechat.tokenCalls.get(expired!)], [1, 1]);
    assert.equal(second.due, 0, 'both are scheduled ahead of their new tokens');
    for (const appid of [gone!, expired!]) {
      const { token } = await getAuthorizerState(world.deps, appid, { consistent: true });
      assert.ok(token && token.expiresAt > nowS() + 3600);
      assert.equal((await getAuthorizer(world.deps, appid))?.nextRefreshAt, nextRefreshFor(token.expiresAt));
    }
  });

  it('moves a due account someone else already refreshed to its live token, without calling WeChat', async () => {
    // Prepare: scheduled as due, but its stored token has hours left (a writer stored an earlier schedule).
    const [fresh] = await seedAccounts(world, 1, 0);
    await world.table.doc.send(
      new UpdateCommand({
        TableName: world.table.tableName,
        Key: authorizerKey(fresh!, 'PROFILE'),
        UpdateExpression: 'SET nextRefreshAt = :t, gsi1sk = :sk',
        ExpressionAttributeValues: { ':t': nowS() - 60, ':sk': String(nowS() - 60).padStart(12, '0') },
      }),
    );
    world.wechat.tokenCalls.clear();
    // Act
    const first = await runRefresh(world.deps);
    const second = await runRefresh(world.deps);
    // Assess
    assert.deepEqual([first.due, first.skipped.fresh, second.due], [1, 1, 0]);
    assert.equal(world.wechat.tokenCalls.size, 0);
  });
});

describe('refresh.runRefresh: mass 61023 and the 45009 circuit breaker', () => {
  let world: World;
  after(async () => world.close());

  it('recovers 30 accounts whose refresh tokens WeChat rejects (61023) with one api_get_authorizer_list walk for the run', async () => {
    // Prepare: every stored refresh token is stale; WeChat lists the ones it honours.
    world = await createWorld();
    const appids = await seedAccounts(world, 30, 30);
    for (const appid of appids) {
      await world.table.doc.send(
        new UpdateCommand({
          TableName: world.table.tableName,
          Key: authorizerKey(appid, 'PROFILE'),
          UpdateExpression: 'SET refreshToken = :stale',
          ExpressionAttributeValues: { ':stale': `refreshtoken@@@stale-${appid}` },
        }),
      );
    }
    world.sim.resetCounters();
    // Act
    const summary = await runRefresh(world.deps);
    // Assess
    assert.deepEqual([summary.refreshed, summary.failed], [30, {}]);
    assert.equal(summary.authorizerListWalks, 1);
    assert.equal(world.sim.calls('api_get_authorizer_list'), 1, 'one page holds all 30: one walk, not one per account');
    const simTokens = new Map(world.sim.accounts().map((a) => [a.appid, a.refreshToken]));
    for (const appid of appids) assert.equal((await getAuthorizer(world.deps, appid))?.refreshToken, simTokens.get(appid));
  });

  it('stops the run at the first 45009, leaves the rest due, and says so in its summary', async () => {
    // Prepare
    const appids = await seedAccounts(world, 10, 10);
    for (const appid of appids) world.wechat.faults.set(appid, 45009);
    world.wechat.tokenCalls.clear();
    // Act
    const summary = await runRefresh(world.deps, { concurrency: 1 });
    // Assess
    assert.deepEqual(summary.circuitOpen, { errcode: 45009, api: 'component/api_authorizer_token' });
    assert.equal(world.wechat.totalTokenCalls(), 1, 'no WeChat call after the 45009');
    assert.deepEqual([summary.due, summary.failed, summary.deferred, summary.stoppedEarly], [10, { '45009': 1 }, 9, true]);
    assert.equal(world.metrics.sum('RefreshCircuitOpen'), 1);
    assert.ok(world.logger.records().some((r) => r.event === 'refresh.circuit_open' && r.errcode === 45009));
    const line = world.logger.records().find((r) => r.event === 'authorizer_token.quota_exhausted');
    assert.deepEqual([line?.level, appids.includes(String(line?.authorizerAppid))], ['error', true]);
    assert.equal(world.metrics.sum('AuthorizerRefreshFailed', { Errcode: '45009' }), 1);
    // Next run (quota back): all ten are still due and refreshed.
    world.wechat.faults.clear();
    const next = await runRefresh(world.deps);
    assert.deepEqual([next.due, next.refreshed, next.circuitOpen], [10, 10, undefined]);
  });
});

describe('refresh.runRefresh near the deadline', () => {
  let world: World;
  after(async () => world.close());

  it('stops taking accounts at the deadline and leaves the rest for the next run', async () => {
    // Prepare
    world = await createWorld();
    await seedAccounts(world, 40, 40);
    // Time runs out once 8 calls were made: 4 workers may each have started one more before seeing it.
    const timeLeftMs = () => (world.wechat.totalTokenCalls() < 8 ? 1 : 0);
    // Act
    const first = await runRefresh(world.deps, { concurrency: 4, timeLeftMs });
    const second = await runRefresh(world.deps, { concurrency: 4 });
    // Assess
    assert.equal(first.stoppedEarly, true);
    assert.ok(first.refreshed >= 8 && first.refreshed <= 11, `first run refreshed ${first.refreshed}`);
    assert.equal(first.refreshed + first.deferred, 40);
    assert.equal(second.stoppedEarly, false);
    assert.equal(second.refreshed, 40 - first.refreshed);
    assert.equal(world.wechat.totalTokenCalls(), 40);
  });
});

describe('refresh.runRefresh without a verify ticket', () => {
  let world: World;
  after(async () => world.close());

  it('logs component_ticket.missing at error level and reports it as metrics instead of crashing', async () => {
    // Prepare
    world = await createWorld({ ticket: false });
    await seedAccounts(world, 3, 3);
    // Act
    const summary = await runRefresh(world.deps);
    // Assess
    assert.equal(summary.component, 'failed');
    const line = world.logger.records().find((r) => r.event === 'component_ticket.missing');
    assert.equal(line?.level, 'error');
    assert.equal(line?.componentAppId, SIMULATOR_COMPONENT.appId);
    const dims = { ComponentAppId: SIMULATOR_COMPONENT.appId };
    assert.equal(world.metrics.sum('TicketAgeSeconds', dims), 43_200);
    assert.equal(world.metrics.sum('ComponentTokenRefreshFailed', dims), 1);
    assert.equal(world.metrics.sum('ComponentTokenRemainingSeconds', dims), 0);
    assert.equal(world.sim.calls(), 0, 'no component token means no authorizer call can succeed: none is made');
    assert.equal(summary.refreshed, 0);
  });
});

describe('refresh.failureKey', () => {
  it('counts WeChat answers by errcode and other failures by kind', () => {
    // Assess
    assert.equal(failureKey(new WeChatApiError('component/api_authorizer_token', 45009, 'quota')), '45009');
    assert.equal(failureKey(new WeChatApiError('component/api_authorizer_token', -1, 'system error')), '-1');
    assert.equal(failureKey(new NeedsReauthError('wx1 needs re-authorization')), '61023');
    assert.equal(failureKey(new WeChatNetworkError('component/api_authorizer_token', 3, { timedOut: true })), 'network');
    assert.equal(failureKey(new TokenBusyError('busy')), 'busy');
    assert.equal(failureKey(new Error('boom')), 'error');
  });
});

describe('functions/refresh handler', () => {
  let world: World;
  before(async () => {
    world = await createWorld();
  });
  after(async () => world.close());

  it('runs the refresh inside the Lambda time left and returns the summary', async () => {
    // Prepare
    await seedAccounts(world, 5, 5);
    const handler = createHandler(world.deps);
    // Act
    const summary = await handler(scheduledEvent, { ...context, getRemainingTimeInMillis: () => 120_000 });
    // Assess
    assert.equal(summary.refreshed, 5);
    assert.equal(summary.stoppedEarly, false);
    assert.equal(world.wechat.totalTokenCalls(), 5);
  });

  it('takes no account when less time is left than the safety margin', async () => {
    // Prepare
    await seedAccounts(world, 2, 2);
    world.wechat.tokenCalls.clear();
    // Act
    const summary = await createHandler(world.deps)(scheduledEvent, { ...context, getRemainingTimeInMillis: () => 5_000 });
    // Assess
    assert.equal(summary.stoppedEarly, true);
    assert.equal(summary.refreshed, 0);
    assert.equal(world.wechat.totalTokenCalls(), 0);
  });
});

describe('refresh: one scheduled run spread over worker runs', () => {
  let world: World;
  let appids: string[];
  let endpoint: LambdaEndpoint;
  const FUNCTION = 'wechat-component-test-refresh';
  const invokeContext = { ...context, functionName: FUNCTION, getRemainingTimeInMillis: () => 100_000 };
  before(async () => {
    world = await createWorld();
    appids = await seedAccounts(world, 200, 80);
  });
  after(async () => {
    await endpoint?.stop();
    await world.close();
  });

  it('starts three workers through the Lambda API for REFRESH_WORKERS=4: each partition read by one run, each due account refreshed once', async () => {
    // Prepare: the handler as deployed, on an endpoint where it can invoke itself with the real Lambda client.
    const deps: RefreshDeps = { ...world.deps, config: { ...world.deps.config, refreshWorkers: 4 } };
    let handler: ReturnType<typeof createHandler> | undefined;
    endpoint = await startLambdaEndpoint({ [FUNCTION]: (event, ctx) => handler!(event as ScheduledEvent, ctx) });
    handler = createHandler(deps, lambdaStartRun({ lambdaEndpoint: endpoint.url, awsRegion: 'local' }));
    world.wechat.tokenCalls.clear();
    // Act
    const summary = await handler(scheduledEvent, invokeContext);
    await endpoint.settled();
    // Assess
    const workers = endpoint.invocations();
    assert.deepEqual(
      workers.map((w) => w.type),
      ['Event', 'Event', 'Event'],
    );
    const shards = [...workers.flatMap((w) => (w.payload as WorkerEvent).refreshShards), ...shardGroups(4)[0]!];
    assert.deepEqual(shards.map(String).sort(), ALL_SHARDS.map(String).sort(), 'every partition exactly once');
    const cutOffs = new Set(workers.map((w) => (w.payload as WorkerEvent).dueBefore));
    assert.equal(cutOffs.size, 1, 'every worker reads what was due at the same moment');
    assert.deepEqual([summary.workers, summary.shards], [{ started: 3, failedToStart: 0 }, 5]);
    assert.equal(world.wechat.totalTokenCalls(), 80);
    assert.ok(appids.slice(0, 80).every((a) => world.wechat.tokenCalls.get(a) === 1));
    const completed = world.logger
      .records()
      .filter((r) => r.event === 'refresh.completed')
      .slice(-4);
    assert.equal(
      completed.reduce((n, r) => n + Number(r.refreshed), 0),
      80,
    );
    assert.equal(completed.filter((r) => r.component === 'worker').length, 3);
    assert.deepEqual(await dueEverywhere(world.deps, nowS()), []);
  });

  it('reads the shards of a worker it could not start itself, and says so', async () => {
    // Prepare: due again, and an endpoint that knows no such function (the real client gets ResourceNotFoundException).
    await seedAccounts(world, 40, 40);
    const deps: RefreshDeps = { ...world.deps, config: { ...world.deps.config, refreshWorkers: 4 } };
    const empty = await startLambdaEndpoint({});
    const handler = createHandler(deps, lambdaStartRun({ lambdaEndpoint: empty.url, awsRegion: 'local' }));
    world.wechat.tokenCalls.clear();
    const before = world.metrics.sum('RefreshWorkersNotStarted');
    // Act
    const summary = await handler(scheduledEvent, invokeContext).finally(() => empty.stop());
    // Assess
    assert.deepEqual([summary.workers, summary.shards, summary.refreshed], [{ started: 0, failedToStart: 3 }, 17, 40]);
    assert.equal(world.metrics.sum('RefreshWorkersNotStarted') - before, 3);
    assert.equal(world.logger.records().filter((r) => r.event === 'refresh.worker_not_started').length, 3);
    assert.equal(world.wechat.totalTokenCalls(), 40);
  });

  it('refuses a worker event that names no known shard or no cut-off, before any read or call', async () => {
    // Prepare
    const handler = createHandler(world.deps, async () => {
      throw new Error('no worker may be started');
    });
    world.wechat.tokenCalls.clear();
    // Act + Assess
    for (const event of [
      { refreshShards: [16], dueBefore: nowS() },
      { refreshShards: ['all'], dueBefore: nowS() },
      { refreshShards: [], dueBefore: nowS() },
      { refreshShards: [1, 1], dueBefore: nowS() },
      { refreshShards: [1], dueBefore: 1.5 },
      { refreshShards: [1] },
    ]) {
      await assert.rejects(handler(event as unknown as WorkerEvent, invokeContext), BadRequestError, JSON.stringify(event));
    }
    assert.equal(world.wechat.totalTokenCalls(), 0);
  });
});
