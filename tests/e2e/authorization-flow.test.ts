// The authorization lifecycle end to end, with npm start's pieces in one process: DynamoDB Local (its real
// stream), the WeChat simulator (a real HTTP server) playing WeChat and the account owner, the real `ticket`
// and `authorize` handlers behind a local HTTP server, and the stream poller invoking the real `authorized` handler.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { after, before, beforeEach, describe, it } from 'node:test';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { createHandler as createAuthorizeHandler } from '../../functions/authorize/handler.ts';
import { createHandler as createAuthorizedHandler } from '../../functions/authorized/handler.ts';
import { createHandler as createTicketHandler } from '../../functions/ticket/handler.ts';
import { simulatorEnv, SIMULATOR_COMPONENT } from '../../infra/local/credentials.ts';
import { startSimulator, type Simulator } from '../../infra/local/simulator/index.ts';
import { authorizationXml, unauthorizedXml } from '../../infra/local/simulator/pusher.ts';
import { startStreamPoller, type StreamPoller } from '../../infra/local/stream-poller.ts';
import { loadConfig } from '../../lib/runtime/config.ts';
import { createDeps } from '../../lib/runtime/deps.ts';
import { createWeChatDeps, type WeChatDeps } from '../../lib/runtime/wechat-deps.ts';
import { createMemoryLogger } from '../../lib/kernel/logger.ts';
import { getAuthorizerAccessToken, NeedsReauthError, refreshAuthorizerTokenIfDue, withAuthorizerToken } from '../../lib/tokens/index.ts';
import { getAuthorizer } from '../../lib/store/authorizers.ts';
import { authorizerKey } from '../../lib/store/keys.ts';
import { getAuthorizerToken } from '../../lib/store/tokens.ts';
import { createTestTable, type TestTable } from '../helpers/dynamo.ts';
import { startPlatformServer, type PlatformServer } from '../helpers/platform-server.ts';

const EVENTS_PATH = '/wechat/component/events';
const LANDING_PATH = '/wechat/component/authorized';
let table: TestTable;
let sim: Simulator;
let server: PlatformServer;
let poller: StreamPoller;
let deps: WeChatDeps;
let logger: ReturnType<typeof createMemoryLogger>;
// One clock for WeChat and the platform, so a test can let seconds pass between pushes (CreateTime is in seconds).
let offsetMs = 0;
const clock = () => Date.now() + offsetMs;
const nowS = () => Math.floor(clock() / 1000);
const pass = (seconds: number) => {
  offsetMs += seconds * 1000;
};

const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<number> => {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now() - start;
};
const statusOf = async (appid: string) => (await getAuthorizer(deps, appid))?.status;
const landing = (code: string) => fetch(`${server.url}${LANDING_PATH}${sim.landingQuery(code)}`);
const push = (xml: string, label: string) => sim.deliver(`${server.url}${EVENTS_PATH}`, xml, { label, timestamp: nowS() });

before(async () => {
  table = await createTestTable();
  let routes: { ticket?: ReturnType<typeof createTicketHandler>; authorize?: ReturnType<typeof createAuthorizeHandler> } = {};
  server = await startPlatformServer({
    [`POST ${EVENTS_PATH}`]: (event) => routes.ticket!(event),
    'GET /wechat/component/authorize': (event) => routes.authorize!(event),
    [`GET ${LANDING_PATH}`]: (event) => routes.authorize!(event),
  });
  sim = await startSimulator({ pushUrl: `${server.url}${EVENTS_PATH}`, autoPush: false, ticketIntervalMs: 0, clock });
  const config = loadConfig({
    ...simulatorEnv(),
    TABLE_NAME: table.tableName,
    WECHAT_API_BASE_URL: sim.url,
    DYNAMODB_ENDPOINT: table.endpoint,
    PUBLIC_BASE_URL: server.url,
  });
  logger = createMemoryLogger();
  deps = createWeChatDeps(config, config.secrets!, { doc: table.doc, logger, clock });
  routes = {
    ticket: createTicketHandler(createDeps(config, config.secrets!, { doc: table.doc, logger, clock })),
    authorize: createAuthorizeHandler(deps),
  };
  const authorized = createAuthorizedHandler(deps);
  poller = await startStreamPoller({
    endpoint: table.endpoint,
    tableName: table.tableName,
    invoke: (event) => authorized(event as unknown as DynamoDBStreamEvent),
    pollIntervalMs: 25,
  });
  assert.equal((await sim.pushTicket()).status, 200);
});
after(async () => {
  await poller?.stop();
  await server?.close();
  await sim?.stop();
  await table?.close();
});
beforeEach(() => sim.resetCounters());

describe('authorization flow', () => {
  it('stores the tokens from the authorized push (simulator → ticket → stream → authorized) and serves a working token', async () => {
    // Act
    const started = performance.now();
    const { authorizerAppid, pushStatus } = await sim.authorize({ nickName: 'Push Path Co' });
    // The account's info is written just after the tokens (lib/authorization/authorization.ts): wait for both.
    await waitFor(
      'the authorization',
      async () => (await getAuthorizerToken(deps, authorizerAppid)) !== undefined && (await getAuthorizer(deps, authorizerAppid))?.info !== undefined,
    );
    const latencyMs = performance.now() - started;
    const token = await getAuthorizerAccessToken(deps, authorizerAppid);
    await withAuthorizerToken(deps, authorizerAppid, (t) => deps.wechat.sendCustomText(t, { toUser: 'oUserOpenid0001', content: 'hello' }));
    // Assess
    assert.equal(pushStatus, 200);
    assert.equal(await statusOf(authorizerAppid), 'authorized');
    assert.equal((await getAuthorizer(deps, authorizerAppid))?.info?.nickName, 'Push Path Co');
    assert.equal(token.accessToken, (await getAuthorizerToken(deps, authorizerAppid))?.accessToken);
    assert.ok(sim.customerMessages().some((m) => m.authorizerAppid === authorizerAppid && m.content === 'hello'));
    assert.equal(sim.calls('api_query_auth'), 1);
    assert.equal(sim.calls('api_authorizer_token'), 0, 'the token came from the authorization, not a refresh');
    console.log(`# push → stream → tokens stored: ${latencyMs.toFixed(0)} ms`);
  });

  it('completes the authorization from the landing page alone and shows the account, never the code', async () => {
    // Prepare
    const { authorizationCode, authorizerAppid } = await sim.authorize({ push: false, nickName: 'Landing <Only> Co', kind: 'miniprogram' });
    // Act
    const started = performance.now();
    const response = await landing(authorizationCode);
    const html = await response.text();
    const latencyMs = performance.now() - started;
    // Assess
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.equal(response.headers.get('referrer-policy'), 'origin');
    assert.ok(html.includes('Landing &lt;Only&gt; Co'));
    assert.ok(html.includes('Mini program'));
    assert.ok(html.includes(authorizerAppid));
    assert.ok(!html.includes(authorizationCode) && !html.includes('queryauthcode@@@') && !html.includes('refreshtoken@@@'));
    const token = await getAuthorizerToken(deps, authorizerAppid);
    assert.ok(token && !html.includes(token.accessToken));
    assert.equal(await statusOf(authorizerAppid), 'authorized');
    console.log(`# landing page round trip: ${latencyMs.toFixed(0)} ms`);
  });

  it('calls api_query_auth once when the push and the landing page race for the same code', async () => {
    // Prepare
    sim.setLatency(400, 'api_query_auth');
    // Act
    const { authorizationCode, authorizerAppid } = await sim.authorize();
    const [first, second] = await Promise.all([landing(authorizationCode), landing(authorizationCode)]);
    await poller.drain();
    sim.setLatency(0, 'api_query_auth');
    // Assess
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    assert.equal(sim.calls('api_query_auth'), 1);
    assert.equal(await statusOf(authorizerAppid), 'authorized');
    assert.ok(await getAuthorizerToken(deps, authorizerAppid));
  });

  it('exchanges the code once however often WeChat delivers the push', async () => {
    // Prepare
    const { authorizationCode, authorizerAppid } = await sim.authorize({ push: false });
    const xml = (createTime: number) =>
      authorizationXml({ appId: SIMULATOR_COMPONENT.appId, createTime, infoType: 'authorized', authorizerAppid, authorizationCode });
    const createTime = nowS();
    // Act
    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await push(xml(createTime), 'authorized')).status);
    statuses.push((await push(xml(createTime + 1), 'authorized')).status);
    await poller.drain();
    // Assess
    assert.deepEqual(statuses, [200, 200, 200, 200]);
    assert.equal(sim.calls('api_query_auth'), 1);
    assert.equal(await statusOf(authorizerAppid), 'authorized');
  });

  it('revokes on unauthorized and keeps a re-authorized account when an older unauthorized arrives late', async () => {
    // Prepare
    const { authorizerAppid } = await sim.authorize();
    await poller.drain();
    pass(10);
    const revokedAt = nowS();
    await sim.unauthorize(authorizerAppid);
    await poller.drain();
    const afterRevoke = { status: await statusOf(authorizerAppid), token: await getAuthorizerToken(deps, authorizerAppid) };
    pass(10);
    await sim.authorize({ authorizerAppid });
    await poller.drain();
    // Act
    const late = await push(unauthorizedXml(SIMULATOR_COMPONENT.appId, revokedAt + 5, authorizerAppid), 'unauthorized');
    const replay = await push(unauthorizedXml(SIMULATOR_COMPONENT.appId, revokedAt, authorizerAppid), 'unauthorized');
    await poller.drain();
    // Assess
    assert.equal(afterRevoke.status, 'unauthorized');
    assert.equal(afterRevoke.token, undefined);
    assert.ok((await getAuthorizer(deps, authorizerAppid))?.refreshToken, 'the profile is kept for audit');
    assert.equal(late.status, 200);
    assert.equal(replay.status, 200);
    assert.equal(await statusOf(authorizerAppid), 'authorized');
    assert.ok(await getAuthorizerToken(deps, authorizerAppid));
  });
});

describe('authorization flow: refresh token rejected (61023)', () => {
  const authorizeAndExpireToken = async () => {
    const { authorizerAppid } = await sim.authorize();
    await poller.drain();
    await waitFor('the authorization', async () => (await statusOf(authorizerAppid)) === 'authorized');
    sim.expireAuthorizerToken(authorizerAppid);
    // A refresh runs when the stored token is close to expiry: the new one always expires later.
    pass(60);
    return authorizerAppid;
  };
  const dueNow = () => ({ dueBefore: nowS() + 10 * 24 * 3600 });

  it('recovers with the previous refresh token when the current one is rejected', async () => {
    // Prepare
    const appid = await authorizeAndExpireToken();
    const good = (await getAuthorizer(deps, appid))!.refreshToken;
    await table.doc.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: authorizerKey(appid, 'PROFILE'),
        UpdateExpression: 'SET refreshToken = :bad, previousRefreshToken = :good',
        ExpressionAttributeValues: { ':bad': 'refreshtoken@@@never-issued-by-wechat', ':good': good },
      }),
    );
    // Act
    const outcome = await refreshAuthorizerTokenIfDue(deps, appid, dueNow());
    // Assess
    assert.equal(outcome, 'refreshed');
    assert.equal(sim.calls('api_authorizer_token'), 2);
    assert.equal(sim.calls('api_get_authorizer_list'), 0);
    assert.equal((await getAuthorizer(deps, appid))?.refreshToken, good);
  });

  it('recovers the refresh token through api_get_authorizer_list when the updateauthorized push was lost', async () => {
    // Prepare
    const appid = await authorizeAndExpireToken();
    await sim.reauthorize(appid, { push: false });
    // Act
    const outcome = await refreshAuthorizerTokenIfDue(deps, appid, dueNow());
    // Assess
    assert.equal(outcome, 'refreshed');
    assert.ok(sim.calls('api_get_authorizer_list') >= 1);
    assert.equal((await getAuthorizer(deps, appid))?.refreshToken, sim.accounts().find((a) => a.appid === appid)?.refreshToken);
    assert.equal(await statusOf(appid), 'authorized');
  });

  it('marks the account needs_reauth with an alert line naming it, and a new authorization heals it', async () => {
    // Prepare
    const appid = await authorizeAndExpireToken();
    // WeChat keeps rejecting the refresh token it lists for the account: nothing left to try.
    sim.inject({ api: 'api_authorizer_token', errcode: 61023, times: 1 });
    // Act
    await assert.rejects(refreshAuthorizerTokenIfDue(deps, appid, dueNow()), NeedsReauthError);
    const stuck = await statusOf(appid);
    pass(10);
    await sim.authorize({ authorizerAppid: appid });
    await poller.drain();
    // Assess
    assert.equal(stuck, 'needs_reauth');
    assert.ok(logger.records().some((r) => r.level === 'error' && r.event === 'authorizer.needs_reauth' && r.authorizerAppid === appid));
    assert.equal(await statusOf(appid), 'authorized');
    assert.ok(await getAuthorizerAccessToken(deps, appid));
  });
});

describe('npm run status', () => {
  it('prints every authorizer with name, type, status, token expiry and permissions, and no secret', async () => {
    // Act
    const { stdout } = await promisify(execFile)(process.execPath, ['scripts/status.ts'], {
      env: { ...process.env, TABLE_NAME: table.tableName, DYNAMODB_ENDPOINT: table.endpoint },
      timeout: 30_000,
    });
    // Assess
    const lines = stdout.trim().split('\n');
    assert.match(lines[0]!, /^APPID\s+NAME\s+TYPE\s+STATUS\s+TOKEN EXPIRES IN\s+PERMISSIONS$/);
    assert.ok(lines.some((l) => l.includes('Push Path Co') && l.includes('authorized') && /\dh \d\dm/.test(l)));
    assert.ok(lines.some((l) => l.includes('mini program')));
    assert.ok(lines.some((l) => l.includes('official (service)')));
    assert.match(stdout, /\d+ authorizer\(s\)\n$/);
    assert.ok(!/refreshtoken@@@|queryauthcode@@@|access_token/.test(stdout));
  });
});
