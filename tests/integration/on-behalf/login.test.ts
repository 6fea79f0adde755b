// The `login` function (mini-program login and web OAuth through the component) and the `oauthUrl` operator
// action, against DynamoDB Local and the WeChat simulator, which records which query parameters each call sent.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agent } from 'undici';
import { createHandler } from '../../../functions/login/handler.ts';
import { simulatorEnv, SIMULATOR_COMPONENT } from '../../../infra/local/credentials.ts';
import { startSimulator, type Simulator } from '../../../infra/local/simulator/index.ts';
import { nowSeconds } from '../../../lib/kernel/clock.ts';
import { createMemoryLogger } from '../../../lib/kernel/logger.ts';
import { oauthUrl } from '../../../lib/on-behalf/oauth.ts';
import { loadConfig } from '../../../lib/runtime/config.ts';
import { createWeChatDeps, type WeChatDeps } from '../../../lib/runtime/wechat-deps.ts';
import { markUnauthorized } from '../../../lib/store/authorizers.ts';
import { saveAuthorization } from '../../../lib/store/grants.ts';
import { saveVerifyTicket } from '../../../lib/store/tickets.ts';
import { withComponentToken } from '../../../lib/tokens/component-token.ts';
import { createWeChatClient } from '../../../lib/wechat/client.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';

const COMPONENT = SIMULATOR_COMPONENT.appId;
let sim: Simulator;
let agent: Agent;
let table: TestTable;
let deps: WeChatDeps;
let logger: ReturnType<typeof createMemoryLogger>;
let invoke: (event: unknown) => Promise<Record<string, unknown>>;
let miniProgram: string;
let officialAccount: string;

type ErrorReply = { error: { type: string; message: string; errcode?: number } };

/** An account the owner authorized in the simulator, stored as the authorization flow stores it. */
const authorized = async (kind: 'official' | 'miniprogram'): Promise<string> => {
  const { authorizerAppid, authorizationCode } = await sim.authorize({ kind, push: false });
  const auth = await withComponentToken(deps, (token) => deps.wechat.apiQueryAuth(token, { componentAppId: COMPONENT, authorizationCode }));
  await saveAuthorization(deps, authorizerAppid, {
    refreshToken: auth.authorizerRefreshToken!,
    funcInfo: auth.funcInfo,
    authorizedAt: nowSeconds(deps.clock) - 10,
  });
  return authorizerAppid;
};

before(async () => {
  sim = await startSimulator({ autoPush: false, ticketIntervalMs: 0 });
  agent = new Agent();
  table = await createTestTable();
  const config = loadConfig({
    ...simulatorEnv(),
    TABLE_NAME: table.tableName,
    WECHAT_API_BASE_URL: sim.url,
    PUBLIC_BASE_URL: 'https://platform.example.test',
  });
  logger = createMemoryLogger('debug');
  deps = createWeChatDeps(config, config.secrets!, {
    doc: table.doc,
    logger,
    wechat: createWeChatClient({ baseUrl: sim.url, logger, dispatcher: agent }),
  });
  await sim.pushTicket();
  await saveVerifyTicket(deps, { componentAppId: COMPONENT, ticket: sim.latestTicket()!, createTime: nowSeconds(deps.clock) });
  miniProgram = await authorized('miniprogram');
  officialAccount = await authorized('official');
  const handler = createHandler(deps);
  invoke = async (event) => (await handler(event)) as Record<string, unknown>;
});
after(async () => {
  await agent.close();
  await sim.stop();
  await table.close();
});

/** The query parameter names of the last call of `api` the simulator received. */
const paramsOf = (api: string): string[] => [...(sim.callLog.filter((c) => c.api === api).at(-1)?.params ?? [])].sort();

describe('login {authorizerAppid, jsCode}', () => {
  it("answers the user's openid, session key and unionid through the component, and never logs the session key", async () => {
    // Prepare
    const minted = sim.mintJsCode({ authorizerAppid: miniProgram, user: 'dora' })!;
    // Act
    const session = await invoke({ authorizerAppid: miniProgram, jsCode: minted.code });
    // Assess
    assert.deepEqual(Object.keys(session).sort(), ['openid', 'sessionKey', 'unionid']);
    assert.equal(session.openid, minted.openid);
    assert.equal(session.unionid, minted.unionid);
    assert.deepEqual(paramsOf('jscode2session'), ['appid', 'component_access_token', 'component_appid', 'grant_type', 'js_code']);
    const logged = logger.lines.join('\n');
    assert.ok(!logged.includes(session.sessionKey as string), 'session key logged');
    assert.ok(!logged.includes(minted.code), 'js_code logged');
  });

  it('answers invalid_code for a spent code, with one jscode2session call and no retry', async () => {
    // Prepare
    const { code } = sim.mintJsCode({ authorizerAppid: miniProgram })!;
    await invoke({ authorizerAppid: miniProgram, jsCode: code });
    sim.resetCounters();
    // Act
    const reply = (await invoke({ authorizerAppid: miniProgram, jsCode: code })) as ErrorReply;
    // Assess
    assert.equal(reply.error.type, 'invalid_code');
    assert.equal(reply.error.errcode, 40163);
    assert.match(reply.error.message, /wx\.login\(\) again/);
    assert.ok(!reply.error.message.includes(code));
    assert.equal(sim.calls('jscode2session'), 1);
    assert.ok(!logger.lines.join('\n').includes(code), 'the spent code was logged');
  });

  it('answers invalid_code (40029) for a code issued to another mini program', async () => {
    // Prepare
    const other = await authorized('miniprogram');
    const { code } = sim.mintJsCode({ authorizerAppid: other })!;
    // Act
    const reply = (await invoke({ authorizerAppid: miniProgram, jsCode: code })) as ErrorReply;
    // Assess
    assert.deepEqual([reply.error.type, reply.error.errcode], ['invalid_code', 40029]);
  });

  it('replaces a component token WeChat no longer accepts, once, and the code still logs the user in', async () => {
    // Prepare
    const minted = sim.mintJsCode({ authorizerAppid: miniProgram })!;
    sim.expireComponentTokens();
    sim.resetCounters();
    // Act
    const session = await invoke({ authorizerAppid: miniProgram, jsCode: minted.code });
    // Assess
    assert.equal(session.openid, minted.openid);
    assert.deepEqual(
      sim.callLog.map((c) => [c.api, c.errcode]),
      [
        ['jscode2session', 40001],
        ['api_component_token', 0],
        ['jscode2session', 0],
      ],
    );
  });

  it('refuses bad payloads, unknown and revoked accounts without calling WeChat', async () => {
    // Prepare
    const revoked = await authorized('miniprogram');
    await markUnauthorized(deps, revoked, nowSeconds(deps.clock));
    sim.resetCounters();
    // Act
    const replies = await Promise.all(
      [
        { jsCode: 'abc' },
        { authorizerAppid: miniProgram },
        { authorizerAppid: miniProgram, jsCode: '' },
        { authorizerAppid: miniProgram, jsCode: 'a', oauthCode: 'b' },
        { authorizerAppid: miniProgram, jsCode: 'a', secret: 'x' },
        { authorizerAppid: 'wx00000000000000ab', jsCode: 'abc' },
        { authorizerAppid: revoked, jsCode: 'abc' },
      ].map((event) => invoke(event) as Promise<ErrorReply>),
    );
    // Assess
    assert.deepEqual(
      replies.map((r) => r.error.type),
      ['bad_request', 'bad_request', 'bad_request', 'bad_request', 'bad_request', 'not_found', 'unauthorized'],
    );
    assert.equal(sim.calls(), 0);
  });
});

describe('login web OAuth', () => {
  it('exchanges a code and refreshes the user token through the component endpoints, never with an account secret', async () => {
    // Prepare
    const minted = sim.mintOAuthCode({ authorizerAppid: officialAccount, scope: 'snsapi_userinfo', user: 'erin' })!;
    const before = nowSeconds(deps.clock);
    // Act
    const token = await invoke({ authorizerAppid: officialAccount, oauthCode: minted.code });
    const refreshed = await invoke({ authorizerAppid: officialAccount, oauthRefreshToken: token.refreshToken });
    const profile = await invoke({ authorizerAppid: officialAccount, userinfo: { accessToken: refreshed.accessToken, openid: token.openid } });
    // Assess
    assert.deepEqual(Object.keys(token).sort(), ['accessToken', 'expiresAt', 'openid', 'refreshToken', 'scope', 'unionid']);
    assert.equal(token.openid, minted.openid);
    assert.equal(token.scope, 'snsapi_userinfo');
    assert.ok((token.expiresAt as number) >= before + 7200);
    assert.notEqual(refreshed.accessToken, token.accessToken);
    assert.equal(profile.openid, minted.openid);
    const exchange = paramsOf('oauth2_component_access_token');
    const refresh = paramsOf('oauth2_component_refresh_token');
    assert.deepEqual(exchange, ['appid', 'code', 'component_access_token', 'component_appid', 'grant_type']);
    assert.deepEqual(refresh, ['appid', 'component_access_token', 'component_appid', 'grant_type', 'refresh_token']);
    for (const params of [exchange, refresh]) assert.ok(!params.some((p) => /secret|^access_token$/.test(p)));
    const logged = logger.lines.join('\n');
    for (const value of [token.accessToken, token.refreshToken, refreshed.accessToken, minted.code]) assert.ok(!logged.includes(value as string));
  });

  it('answers invalid_code for a second use of the same OAuth code (a double redirect or a reload)', async () => {
    // Prepare
    const { code } = sim.mintOAuthCode({ authorizerAppid: officialAccount, scope: 'snsapi_base' })!;
    await invoke({ authorizerAppid: officialAccount, oauthCode: code });
    // Act
    const reply = (await invoke({ authorizerAppid: officialAccount, oauthCode: code })) as ErrorReply;
    // Assess
    assert.deepEqual([reply.error.type, reply.error.errcode], ['invalid_code', 40163]);
  });

  it('answers invalid_refresh_token, scope_insufficient and invalid_user_token without touching the component token', async () => {
    // Prepare
    const { code } = sim.mintOAuthCode({ authorizerAppid: officialAccount, scope: 'snsapi_base' })!;
    const base = await invoke({ authorizerAppid: officialAccount, oauthCode: code });
    sim.resetCounters();
    // Act
    const badRefresh = (await invoke({ authorizerAppid: officialAccount, oauthRefreshToken: 'not-a-refresh-token' })) as ErrorReply;
    const noProfile = (await invoke({
      authorizerAppid: officialAccount,
      userinfo: { accessToken: base.accessToken, openid: base.openid },
    })) as ErrorReply;
    const badToken = (await invoke({
      authorizerAppid: officialAccount,
      userinfo: { accessToken: 'expired-user-token', openid: base.openid },
    })) as ErrorReply;
    // Assess
    assert.deepEqual([badRefresh.error.type, badRefresh.error.errcode], ['invalid_refresh_token', 40030]);
    assert.deepEqual([noProfile.error.type, noProfile.error.errcode], ['scope_insufficient', 48001]);
    assert.deepEqual([badToken.error.type, badToken.error.errcode], ['invalid_user_token', 40001]);
    assert.equal(sim.calls('api_component_token'), 0);
  });
});

describe('admin oauthUrl', () => {
  it('builds the authorize URL with the component appid, connect_redirect=1 and #wechat_redirect', async () => {
    // Act
    const { url } = await oauthUrl(deps, {
      authorizerAppid: officialAccount,
      redirectUri: 'https://h5.example.test/oauth/back?from=menu',
      scope: 'snsapi_userinfo',
      state: 'abc123',
    });
    // Assess
    assert.equal(
      url,
      `https://open.weixin.qq.com/connect/oauth2/authorize?appid=${officialAccount}` +
        '&redirect_uri=https%3A%2F%2Fh5.example.test%2Foauth%2Fback%3Ffrom%3Dmenu&response_type=code&scope=snsapi_userinfo&state=abc123' +
        `&component_appid=${COMPONENT}&connect_redirect=1#wechat_redirect`,
    );
  });

  it('refuses an account that never authorized the component', async () => {
    await assert.rejects(oauthUrl(deps, { authorizerAppid: 'wx00000000000000cd', redirectUri: 'https://h5.example.test/cb', scope: 'snsapi_base' }), {
      name: 'AuthorizerNotFoundError',
    });
  });
});
