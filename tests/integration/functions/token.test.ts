// The `token` function's handler against DynamoDB Local and the WeChat simulator.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { Agent } from 'undici';
import { createHandler } from '../../../functions/token/handler.ts';
import { SIMULATOR_COMPONENT } from '../../../infra/local/credentials.ts';
import { startSimulator, type Simulator } from '../../../infra/local/simulator/index.ts';
import { nowSeconds } from '../../../lib/kernel/clock.ts';
import type { WeChatDeps } from '../../../lib/runtime/wechat-deps.ts';
import { createMemoryLogger } from '../../../lib/kernel/logger.ts';
import { withComponentToken } from '../../../lib/tokens/component-token.ts';
import { saveAuthorization } from '../../../lib/store/grants.ts';
import { markNeedsReauth, markUnauthorized } from '../../../lib/store/authorizers.ts';
import { saveVerifyTicket } from '../../../lib/store/tickets.ts';
import { getAuthorizerToken, getComponentToken } from '../../../lib/store/tokens.ts';
import { createWeChatClient } from '../../../lib/wechat/client.ts';
import { context } from '../../helpers/context.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { invokeFunction } from '../../helpers/lambda.ts';
import { worldWeChatDeps } from '../../helpers/world.ts';

const COMPONENT = SIMULATOR_COMPONENT.appId;
let sim: Simulator;
let agent: Agent;
let table: TestTable;
let deps: WeChatDeps;
let invoke: (event: unknown) => Promise<unknown>;
let logger: ReturnType<typeof createMemoryLogger>;

before(async () => {
  sim = await startSimulator({ autoPush: false, ticketIntervalMs: 0 });
  agent = new Agent();
  table = await createTestTable();
  logger = createMemoryLogger();
  const wechat = createWeChatClient({ baseUrl: sim.url, logger, dispatcher: agent });
  deps = worldWeChatDeps(table, { wechatUrl: sim.url, publicBaseUrl: 'https://platform.example.test', logger, wechat });
  const handler = invokeFunction(createHandler(deps), logger);
  invoke = (event) => handler(event);
});
after(async () => {
  await agent.close();
  await sim.stop();
  await table.close();
});

const storeTicket = async () => {
  await sim.pushTicket();
  await saveVerifyTicket(deps, { componentAppId: COMPONENT, ticket: sim.latestTicket()!, createTime: nowSeconds(deps.clock) });
};

/** An account authorized in the simulator, with its profile (and info) stored as the lifecycle stores it. */
const authorizedAccount = async (): Promise<string> => {
  const { authorizerAppid, authorizationCode } = await sim.authorize({ push: false, nickName: 'Handler Test Account' });
  const auth = await withComponentToken(deps, (t) => deps.wechat.apiQueryAuth(t, { componentAppId: COMPONENT, authorizationCode }));
  const { authorizerInfo } = await withComponentToken(deps, (t) =>
    deps.wechat.apiGetAuthorizerInfo(t, { componentAppId: COMPONENT, authorizerAppid }),
  );
  await saveAuthorization(deps, authorizerAppid, {
    accessToken: auth.authorizerAccessToken!,
    expiresAt: nowSeconds(deps.clock) + auth.expiresIn!,
    refreshToken: auth.authorizerRefreshToken!,
    funcInfo: auth.funcInfo,
    info: authorizerInfo,
    authorizedAt: nowSeconds(deps.clock) - 5,
  });
  return authorizerAppid;
};

describe('token handler', () => {
  it('answers a typed missing_ticket error object before any ticket was pushed', async () => {
    // Act
    const reply = (await invoke({})) as { error: { type: string; message: string } };
    // Assess
    assert.equal(reply.error.type, 'missing_ticket');
    assert.match(reply.error.message, /api_start_push_ticket/);
    assert.equal(sim.calls('api_component_token'), 0);
  });

  it('returns the component token for {} as {accessToken, expiresAt}', async () => {
    // Prepare
    await storeTicket();
    // Act
    const reply = await invoke({});
    // Assess
    const stored = await getComponentToken(deps, COMPONENT);
    assert.deepEqual(reply, { accessToken: stored?.accessToken, expiresAt: stored?.expiresAt });
  });

  it('returns the account token for {"authorizerAppid"}', async () => {
    // Prepare
    const appid = await authorizedAccount();
    // Act
    const reply = await invoke({ authorizerAppid: appid });
    // Assess
    const stored = await getAuthorizerToken(deps, appid);
    assert.deepEqual(reply, { accessToken: stored?.accessToken, expiresAt: stored?.expiresAt });
  });

  it('logs every hand-out with the appid and the request id, never the token', async () => {
    // Prepare
    await storeTicket();
    const appid = await authorizedAccount();
    logger.lines.length = 0;
    // Act
    const account = (await invoke({ authorizerAppid: appid })) as { accessToken: string };
    const component = (await invoke({})) as { accessToken: string };
    // Assess
    const handed = logger.records().filter((r) => r.event === 'token.handed_out');
    assert.deepEqual(
      handed.map((r) => [r.kind, r.appid, r.requestId]),
      [
        ['authorizer', appid, context.awsRequestId],
        ['component', COMPONENT, context.awsRequestId],
      ],
    );
    for (const line of logger.lines) assert.ok(!line.includes(account.accessToken) && !line.includes(component.accessToken), line);
  });

  it('lists authorizers for {"list":true} with status, names, expiry and permissions but no token', async () => {
    // Prepare
    const appid = await authorizedAccount();
    const token = await getAuthorizerToken(deps, appid);
    // Act
    const reply = (await invoke({ list: true })) as { authorizers: Record<string, unknown>[] };
    // Assess
    const row = reply.authorizers.find((r) => r.authorizerAppid === appid);
    assert.equal(row?.status, 'authorized');
    assert.equal(row?.nickName, 'Handler Test Account');
    assert.match(String(row?.userName), /^gh_/);
    assert.equal(row?.tokenExpiresAt, token?.expiresAt);
    assert.ok(Array.isArray(row?.funcInfo) && (row.funcInfo as number[]).length > 0);
    assert.equal(JSON.stringify(reply).includes(token!.accessToken), false);
    assert.equal(JSON.stringify(reply).includes('refreshtoken@@@'), false);
  });

  it('answers bad_request for malformed payloads without calling WeChat', async () => {
    // Prepare
    sim.resetCounters();
    const payloads = [
      'wx',
      [],
      { authorizerAppid: 'not-an-appid' },
      { authorizerAppid: 42 },
      { appid: 'wx0123456789abcdef' },
      { list: 'yes' },
      { list: true, cursor: 'garbage' },
      { cursor: 'x' },
    ];
    // Act
    const replies = (await Promise.all(payloads.map((p) => invoke(p)))) as { error?: { type: string } }[];
    // Assess
    assert.deepEqual(
      replies.map((r) => r.error?.type),
      payloads.map(() => 'bad_request'),
    );
    assert.equal(sim.calls(), 0);
  });

  it('answers not_found, unauthorized and needs_reauth with what the operator must do', async () => {
    // Prepare
    const revoked = await authorizedAccount();
    await markUnauthorized(deps, revoked, nowSeconds(deps.clock));
    const stuck = await authorizedAccount();
    await markNeedsReauth(deps, stuck, 'test');
    await table.doc.send(new DeleteCommand({ TableName: table.tableName, Key: { pk: `AUTHORIZER#${stuck}`, sk: 'ACCESS_TOKEN' } }));
    // Act
    const replies = (await Promise.all([
      invoke({ authorizerAppid: 'wx00000000000000aa' }),
      invoke({ authorizerAppid: revoked }),
      invoke({ authorizerAppid: stuck }),
    ])) as {
      error: { type: string; message: string };
    }[];
    // Assess
    assert.deepEqual(
      replies.map((r) => r.error.type),
      ['not_found', 'unauthorized', 'needs_reauth'],
    );
    for (const reply of replies) assert.match(reply.error.message, /authorize/);
  });

  it('answers WeChat API failures (IP whitelist, daily quota, busy) as typed errors with the errcode, not function errors', async () => {
    // Prepare
    const cases: [number, string][] = [
      [61004, 'access clientip is not registered'],
      [45009, 'reach max api daily quota limit'],
      [-1, 'system error'],
    ];
    const replies: { error: { type: string; errcode: number; api: string; message: string } }[] = [];
    // Act
    for (const [errcode] of cases) {
      await table.doc.send(new DeleteCommand({ TableName: table.tableName, Key: { pk: `COMPONENT#${COMPONENT}`, sk: 'ACCESS_TOKEN' } }));
      // -1 is retried by the client twice: three answers make it final.
      sim.inject({ api: 'api_component_token', errcode, times: errcode === -1 ? 3 : 1 });
      replies.push((await invoke({})) as (typeof replies)[number]);
    }
    // Assess
    assert.deepEqual(
      replies.map((r) => [r.error.type, r.error.errcode, r.error.api]),
      cases.map(([errcode]) => ['wechat_error', errcode, 'component/api_component_token']),
    );
    for (const [i, [, errmsg]] of cases.entries()) assert.match(replies[i]!.error.message, new RegExp(errmsg));
  });

  it('throws unexpected failures instead of dressing them up as a reply', async () => {
    // Prepare: a table that does not exist is an outage, not an answer.
    const broken = createHandler({ ...deps, tableName: 'no-such-table' });
    // Act
    const attempt = broken({});
    // Assess
    await assert.rejects(attempt, (e: unknown) => e instanceof Error && e.name === 'ResourceNotFoundException');
  });
});
