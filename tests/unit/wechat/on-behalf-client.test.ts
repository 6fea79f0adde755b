// The on-behalf APIs of the WeChat client (lib/wechat/on-behalf-client.ts) on undici's MockAgent: method,
// path and query of every call, the mapped answers, typed errors, and which failures are retried.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { MockAgent } from 'undici';
import { createMemoryLogger } from '../../../lib/kernel/logger.ts';
import { createWeChatClient } from '../../../lib/wechat/client.ts';
import { WeChatApiError, WeChatNetworkError } from '../../../lib/wechat/errors.ts';
import { isCodeInvalid, isScopeInsufficient, isUserRefreshTokenInvalid, isUserTokenInvalid } from '../../../lib/wechat/on-behalf-client.ts';

const BASE = 'https://api.wechat.test';
const COMPONENT = 'wx1234567890abcdef';
const ACCOUNT = 'wxf8b4f85f3a794e77';
const TOKEN = 'component-token-Zq81Lm0';

interface Call {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
}
type Answer = { json?: unknown; error?: Error };

const agents: MockAgent[] = [];
afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.close();
});

const setup = () => {
  const agent = new MockAgent();
  agent.disableNetConnect();
  agents.push(agent);
  const pool = agent.get(BASE);
  const logger = createMemoryLogger();
  const client = createWeChatClient({ baseUrl: BASE, logger, dispatcher: agent, retryBaseMs: 1 });
  const calls: Call[] = [];
  const answer = (path: string, a: Answer) => {
    const scope = pool.intercept({ path: (p: string) => p.split('?')[0] === path, method: 'GET' });
    if (a.error) return scope.replyWithError(a.error);
    scope.reply((opts) => {
      const url = new URL(opts.path, BASE);
      calls.push({ method: opts.method, path: url.pathname, query: Object.fromEntries(url.searchParams), body: opts.body });
      return { statusCode: 200, data: JSON.stringify(a.json) };
    });
  };
  return { agent, logger, client, calls, answer };
};

const refused = (errcode: number) => ({ errcode, errmsg: `refused rid: 6650f1a2-0b1c` });

describe('wechatClient.getJsapiTicket', () => {
  it('GETs the ticket with the authorizer token and type=jsapi, no body', async () => {
    // Prepare
    const { agent, client, calls, answer } = setup();
    answer('/cgi-bin/ticket/getticket', { json: { errcode: 0, errmsg: 'ok', ticket: 'bxLdikRXVbTPdHSM05e5u5sUoXNKd8', expires_in: 7200 } });
    // Act
    const ticket = await client.getJsapiTicket('authorizer-token-1');
    // Assess
    assert.deepEqual(calls, [
      { method: 'GET', path: '/cgi-bin/ticket/getticket', query: { access_token: 'authorizer-token-1', type: 'jsapi' }, body: undefined },
    ]);
    assert.deepEqual(ticket, { ticket: 'bxLdikRXVbTPdHSM05e5u5sUoXNKd8', expiresIn: 7200 });
    agent.assertNoPendingInterceptors();
  });

  it('throws WeChatApiError 45009 naming ticket/getticket, without retrying', async () => {
    // Prepare
    const { client, calls, answer } = setup();
    answer('/cgi-bin/ticket/getticket', { json: refused(45009) });
    // Act & Assess
    await assert.rejects(
      client.getJsapiTicket('authorizer-token-1'),
      (e: unknown) => e instanceof WeChatApiError && e.errcode === 45009 && e.api === 'ticket/getticket',
    );
    assert.equal(calls.length, 1);
  });

  it('does not repeat a getticket whose answer was lost (it would mint another ticket against the quota)', async () => {
    // Prepare
    const { client, answer } = setup();
    answer('/cgi-bin/ticket/getticket', { error: Object.assign(new Error('socket hang up'), { code: 'UND_ERR_SOCKET' }) });
    // Act & Assess
    await assert.rejects(client.getJsapiTicket('authorizer-token-1'), (e: unknown) => e instanceof WeChatNetworkError && e.attempts === 1);
  });
});

describe('wechatClient.componentJscode2session', () => {
  it('sends appid, js_code, grant_type, component_appid and the component token, and never a secret', async () => {
    // Prepare
    const { client, calls, answer, logger } = setup();
    answer('/sns/component/jscode2session', { json: { openid: 'oUser1', session_key: 'c2Vzc2lvbi1rZXktMQ==', unionid: 'oUnion1' } });
    // Act
    const session = await client.componentJscode2session(TOKEN, { componentAppId: COMPONENT, authorizerAppid: ACCOUNT, jsCode: '061Abc2w3' });
    logger.info('probe', { note: `session c2Vzc2lvbi1rZXktMQ== for code 061Abc2w3` });
    // Assess
    assert.deepEqual(calls[0]?.query, {
      appid: ACCOUNT,
      component_appid: COMPONENT,
      component_access_token: TOKEN,
      js_code: '061Abc2w3',
      grant_type: 'authorization_code',
    });
    assert.deepEqual(session, { openid: 'oUser1', sessionKey: 'c2Vzc2lvbi1rZXktMQ==', unionid: 'oUnion1' });
    assert.ok(!logger.lines.join('\n').includes('c2Vzc2lvbi1rZXktMQ'), 'the session key is protected from the logs');
    assert.ok(!logger.lines.join('\n').includes('061Abc2w3'), 'the code is protected from the logs');
  });

  it('returns no unionid when WeChat sends none', async () => {
    // Prepare
    const { client, answer } = setup();
    answer('/sns/component/jscode2session', { json: { openid: 'oUser2', session_key: 'a2V5LTI=' } });
    // Act
    const session = await client.componentJscode2session(TOKEN, { componentAppId: COMPONENT, authorizerAppid: ACCOUNT, jsCode: '061Xyz' });
    // Assess
    assert.deepEqual(session, { openid: 'oUser2', sessionKey: 'a2V5LTI=' });
  });

  it('classifies 40029 and 40163 as an invalid code, and does not retry a WeChat busy answer into a spent code', async () => {
    // Prepare
    const { client, calls, answer } = setup();
    answer('/sns/component/jscode2session', { json: refused(40163) });
    answer('/sns/component/jscode2session', { json: refused(40029) });
    // Act
    const spent = await client.componentJscode2session(TOKEN, { componentAppId: COMPONENT, authorizerAppid: ACCOUNT, jsCode: 'a' }).catch((e) => e);
    const foreign = await client.componentJscode2session(TOKEN, { componentAppId: COMPONENT, authorizerAppid: ACCOUNT, jsCode: 'b' }).catch((e) => e);
    // Assess
    assert.ok(isCodeInvalid(spent) && isCodeInvalid(foreign));
    assert.equal(calls.length, 2);
  });
});

describe('wechatClient.componentOAuthAccessToken / componentOAuthRefreshToken', () => {
  const answerBody = { access_token: 'user-token-1', expires_in: 7200, refresh_token: 'user-refresh-1', openid: 'oOA1', scope: 'snsapi_userinfo' };

  it('exchanges a code through the component endpoint with the component token', async () => {
    // Prepare
    const { client, calls, answer } = setup();
    answer('/sns/oauth2/component/access_token', { json: { ...answerBody, unionid: 'oUnion9', is_snapshotuser: 1 } });
    // Act
    const token = await client.componentOAuthAccessToken(TOKEN, { componentAppId: COMPONENT, authorizerAppid: ACCOUNT, code: 'oauth-code-1' });
    // Assess
    assert.deepEqual(calls[0]?.query, {
      appid: ACCOUNT,
      component_appid: COMPONENT,
      component_access_token: TOKEN,
      code: 'oauth-code-1',
      grant_type: 'authorization_code',
    });
    assert.deepEqual(token, {
      accessToken: 'user-token-1',
      expiresIn: 7200,
      refreshToken: 'user-refresh-1',
      openid: 'oOA1',
      scope: 'snsapi_userinfo',
      unionid: 'oUnion9',
      isSnapshotUser: true,
    });
  });

  it('refreshes through the component refresh endpoint, never the account one', async () => {
    // Prepare
    const { client, calls, answer } = setup();
    answer('/sns/oauth2/component/refresh_token', { json: answerBody });
    // Act
    const token = await client.componentOAuthRefreshToken(TOKEN, {
      componentAppId: COMPONENT,
      authorizerAppid: ACCOUNT,
      refreshToken: 'user-refresh-1',
    });
    // Assess
    assert.equal(calls[0]?.path, '/sns/oauth2/component/refresh_token');
    assert.deepEqual(calls[0]?.query, {
      appid: ACCOUNT,
      component_appid: COMPONENT,
      component_access_token: TOKEN,
      grant_type: 'refresh_token',
      refresh_token: 'user-refresh-1',
    });
    assert.equal(token.refreshToken, 'user-refresh-1');
    assert.equal(token.unionid, undefined);
  });

  it('classifies 40030 and 42002 as an invalid user refresh token', async () => {
    // Prepare
    const { client, answer } = setup();
    answer('/sns/oauth2/component/refresh_token', { json: refused(40030) });
    answer('/sns/oauth2/component/refresh_token', { json: refused(42002) });
    const input = { componentAppId: COMPONENT, authorizerAppid: ACCOUNT, refreshToken: 'r' };
    // Act
    const errors = [
      await client.componentOAuthRefreshToken(TOKEN, input).catch((e) => e),
      await client.componentOAuthRefreshToken(TOKEN, input).catch((e) => e),
    ];
    // Assess
    assert.ok(errors.every(isUserRefreshTokenInvalid));
    assert.ok(!errors.some(isCodeInvalid));
  });
});

describe('wechatClient.snsUserinfo', () => {
  it('GETs the profile with the user token and openid, lang zh_CN by default', async () => {
    // Prepare
    const { client, calls, answer } = setup();
    answer('/sns/userinfo', {
      json: {
        openid: 'oOA1',
        nickname: '微信用户',
        sex: 0,
        province: '',
        city: '',
        country: '',
        headimgurl: 'https://thirdwx.qlogo.cn/x/132',
        privilege: [],
      },
    });
    // Act
    const info = await client.snsUserinfo('user-token-1', { openid: 'oOA1' });
    // Assess
    assert.deepEqual(calls[0]?.query, { access_token: 'user-token-1', openid: 'oOA1', lang: 'zh_CN' });
    assert.deepEqual(info, { openid: 'oOA1', nickname: '微信用户', sex: 0, headimgurl: 'https://thirdwx.qlogo.cn/x/132', privilege: [] });
  });

  it('classifies an expired user token and a snsapi_base token apart from everything else', async () => {
    // Prepare
    const { client, answer } = setup();
    answer('/sns/userinfo', { json: refused(42001) });
    answer('/sns/userinfo', { json: refused(48001) });
    // Act
    const expired = await client.snsUserinfo('t', { openid: 'o' }).catch((e) => e);
    const base = await client.snsUserinfo('t', { openid: 'o' }).catch((e) => e);
    // Assess
    assert.ok(isUserTokenInvalid(expired) && !isScopeInsufficient(expired));
    assert.ok(isScopeInsufficient(base) && !isUserTokenInvalid(base));
  });
});
