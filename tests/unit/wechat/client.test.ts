import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import * as undici from 'undici';
import { MockAgent } from 'undici';
import DeepAgent from 'undici/lib/dispatcher/agent.js';
import deepRequest from 'undici/lib/api/api-request.js';
import { loadConfig } from '../../../lib/runtime/config.ts';
import { createWeChatDeps } from '../../../lib/runtime/wechat-deps.ts';
import { createMemoryLogger } from '../../../lib/kernel/logger.ts';
import { createWeChatClient, type WeChatClientOptions } from '../../../lib/wechat/client.ts';
import {
  isRefreshTokenInvalid,
  isRevoked,
  isTicketInvalid,
  isTokenInvalid,
  WeChatApiError,
  WeChatNetworkError,
  WeChatProtocolError,
} from '../../../lib/wechat/errors.ts';

const BASE = 'https://api.wechat.test';
const APPID = 'wx1234567890abcdef';
const ACCOUNT = 'wxf8b4f85f3a794e77';
const TOKEN = 'component-token-Zq81Lm0';
const SECRET = 'component-secret-5b7c9d';
const TICKET = 'ticket@@@HwV1ZnCqL0-test-ticket';

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../../fixtures/wechat/${name}.json`, import.meta.url), 'utf8')) as Record<string, unknown>;

interface Call {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: unknown;
  body: unknown;
}
type Answer = { status?: number; json?: unknown; text?: string; delayMs?: number; error?: Error };

const agents: MockAgent[] = [];
afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.close();
});

/** A client on a MockAgent that records every request; `answer` queues one reply per expected call. */
const setup = (options: Partial<WeChatClientOptions> = {}) => {
  const agent = new MockAgent();
  agent.disableNetConnect();
  agents.push(agent);
  const pool = agent.get(BASE);
  const logger = createMemoryLogger();
  const client = createWeChatClient({ baseUrl: `${BASE}/`, logger, dispatcher: agent, retryBaseMs: 1, ...options });
  const calls: Call[] = [];
  const answer = (path: string, a: Answer) => {
    const scope = pool.intercept({ path: (p: string) => p.split('?')[0] === path, method: 'POST' });
    if (a.error) {
      scope.replyWithError(a.error);
      return;
    }
    const reply = scope.reply((opts) => {
      const url = new URL(opts.path, BASE);
      const headers = opts.headers as Record<string, string>;
      calls.push({
        method: opts.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        contentType: headers['content-type'],
        body: JSON.parse(String(opts.body)),
      });
      return { statusCode: a.status ?? 200, data: a.text ?? JSON.stringify(a.json) };
    });
    if (a.delayMs) reply.delay(a.delayMs);
  };
  return { agent, logger, client, calls, answer };
};

const P = '/cgi-bin/component';

describe('wechatClient.apiComponentToken', () => {
  it('posts appid, secret and ticket as JSON without a token query and maps the token', async () => {
    // Prepare
    const { agent, client, calls, answer } = setup();
    answer(`${P}/api_component_token`, { json: fixture('api_component_token') });
    // Act
    const result = await client.apiComponentToken({ componentAppId: APPID, componentAppSecret: SECRET, componentVerifyTicket: TICKET });
    // Assess
    assert.deepEqual(calls, [
      {
        method: 'POST',
        path: `${P}/api_component_token`,
        query: {},
        contentType: 'application/json',
        body: { component_appid: APPID, component_appsecret: SECRET, component_verify_ticket: TICKET },
      },
    ]);
    assert.deepEqual(result, { componentAccessToken: fixture('api_component_token').component_access_token, expiresIn: 7200 });
    agent.assertNoPendingInterceptors();
  });

  it('throws a WeChatProtocolError naming the field when component_access_token is missing', async () => {
    // Prepare
    const { client, answer } = setup();
    answer(`${P}/api_component_token`, { json: { expires_in: 7200 } });
    // Act & Assess
    await assert.rejects(
      client.apiComponentToken({ componentAppId: APPID, componentAppSecret: SECRET, componentVerifyTicket: TICKET }),
      (e: unknown) => e instanceof WeChatProtocolError && e.api === 'component/api_component_token' && /component_access_token/.test(e.reason),
    );
  });
});

describe('wechatClient.apiCreatePreauthcode', () => {
  it('sends the token as component_access_token and maps the code', async () => {
    // Prepare
    const { agent, client, calls, answer } = setup();
    answer(`${P}/api_create_preauthcode`, { json: fixture('api_create_preauthcode') });
    // Act
    const result = await client.apiCreatePreauthcode(TOKEN, { componentAppId: APPID });
    // Assess
    assert.deepEqual(calls[0]?.query, { component_access_token: TOKEN });
    assert.deepEqual(calls[0]?.body, { component_appid: APPID });
    assert.deepEqual(result, { preAuthCode: fixture('api_create_preauthcode').pre_auth_code, expiresIn: 1800 });
    agent.assertNoPendingInterceptors();
  });
});

describe('wechatClient.apiQueryAuth', () => {
  it('maps authorization_info with tokens and funcscope ids', async () => {
    // Prepare
    const { agent, client, calls, answer } = setup();
    const info = fixture('api_query_auth').authorization_info as Record<string, unknown>;
    answer(`${P}/api_query_auth`, { json: fixture('api_query_auth') });
    // Act
    const result = await client.apiQueryAuth(TOKEN, { componentAppId: APPID, authorizationCode: 'queryauthcode@@@abc123' });
    // Assess
    assert.deepEqual(calls[0]?.body, { component_appid: APPID, authorization_code: 'queryauthcode@@@abc123' });
    assert.deepEqual(calls[0]?.query, { component_access_token: TOKEN });
    assert.deepEqual(result, {
      authorizerAppid: ACCOUNT,
      authorizerAccessToken: info.authorizer_access_token,
      expiresIn: 7200,
      authorizerRefreshToken: info.authorizer_refresh_token,
      funcInfo: [1, 2, 3, 17],
    });
    agent.assertNoPendingInterceptors();
  });

  it('returns no token fields for an account without API permission', async () => {
    // Prepare
    const { client, answer } = setup();
    answer(`${P}/api_query_auth`, { json: { authorization_info: { authorizer_appid: ACCOUNT, func_info: [] } } });
    // Act
    const result = await client.apiQueryAuth(TOKEN, { componentAppId: APPID, authorizationCode: 'queryauthcode@@@abc123' });
    // Assess
    assert.deepEqual(result, { authorizerAppid: ACCOUNT, funcInfo: [] });
  });

  it('rejects a func_info item without a category id instead of inventing one', async () => {
    // Prepare
    const { client, answer } = setup();
    answer(`${P}/api_query_auth`, { json: { authorization_info: { authorizer_appid: ACCOUNT, func_info: [{ confirm_info: {} }] } } });
    // Act & Assess
    await assert.rejects(
      client.apiQueryAuth(TOKEN, { componentAppId: APPID, authorizationCode: 'queryauthcode@@@x1' }),
      (e: unknown) => e instanceof WeChatProtocolError && e.reason.includes('func_info[0].funcscope_category.id'),
    );
  });
});

describe('wechatClient.apiAuthorizerToken', () => {
  it('posts the refresh token and returns the rotated one when WeChat sends it', async () => {
    // Prepare
    const { agent, client, calls, answer } = setup();
    answer(`${P}/api_authorizer_token`, { json: fixture('api_authorizer_token') });
    answer(`${P}/api_authorizer_token`, { json: { authorizer_access_token: 'access-token-2-Kx9', expires_in: 7200 } });
    const input = { componentAppId: APPID, authorizerAppid: ACCOUNT, authorizerRefreshToken: 'refreshtoken@@@old-1' };
    // Act
    const rotated = await client.apiAuthorizerToken(TOKEN, input);
    const plain = await client.apiAuthorizerToken(TOKEN, input);
    // Assess
    assert.deepEqual(calls[0]?.body, { component_appid: APPID, authorizer_appid: ACCOUNT, authorizer_refresh_token: 'refreshtoken@@@old-1' });
    assert.deepEqual(rotated, {
      authorizerAccessToken: fixture('api_authorizer_token').authorizer_access_token,
      expiresIn: 7200,
      authorizerRefreshToken: 'refreshtoken@@@rotated-0Bq9cVQHdLk7m',
    });
    assert.deepEqual(plain, { authorizerAccessToken: 'access-token-2-Kx9', expiresIn: 7200 });
    agent.assertNoPendingInterceptors();
  });
});

describe('wechatClient.apiGetAuthorizerInfo', () => {
  it('maps an official account profile and its authorization', async () => {
    // Prepare
    const { agent, client, calls, answer } = setup();
    answer(`${P}/api_get_authorizer_info`, { json: fixture('api_get_authorizer_info') });
    // Act
    const result = await client.apiGetAuthorizerInfo(TOKEN, { componentAppId: APPID, authorizerAppid: ACCOUNT });
    // Assess
    assert.deepEqual(calls[0]?.body, { component_appid: APPID, authorizer_appid: ACCOUNT });
    assert.deepEqual(result.authorizerInfo, {
      nickName: '微信SDK Demo Special',
      headImg: 'http://wx.qlogo.cn/mmopen/GPy6Ds7uaCsCkVhRDyD5g5Q9kVlXUr8O4D0VHVbNt9Dh/0',
      serviceTypeId: 2,
      verifyTypeId: -1,
      userName: 'gh_eb5e3a772040',
      principalName: '腾讯计算机系统有限公司',
      alias: 'paytest01',
      qrcodeUrl: 'http://mmbiz.qpic.cn/mmbiz/a5icZrUmbV8p5jb6RZ8aYfjfS2AVle8URwBt8QIu6XbGewB9HTSaYj7Th48Mg/0',
      accountStatus: 1,
      isMiniProgram: false,
    });
    assert.deepEqual(result.authorizationInfo, {
      authorizerAppid: ACCOUNT,
      authorizerRefreshToken: 'refreshtoken@@@dTo-YCXPL4llX-u1W1pPpnp8Hgm4wpJtlR6iV0doKdY',
      funcInfo: [1, 2, 15],
    });
    agent.assertNoPendingInterceptors();
  });

  it('flags a mini program and drops empty optional fields', async () => {
    // Prepare
    const { client, answer } = setup();
    answer(`${P}/api_get_authorizer_info`, { json: fixture('api_get_authorizer_info_miniprogram') });
    // Act
    const { authorizerInfo, authorizationInfo } = await client.apiGetAuthorizerInfo(TOKEN, {
      componentAppId: APPID,
      authorizerAppid: 'wx0123456789abcdef',
    });
    // Assess
    assert.equal(authorizerInfo.isMiniProgram, true);
    assert.equal(authorizerInfo.alias, undefined);
    assert.equal(authorizerInfo.serviceTypeId, 0);
    assert.deepEqual(authorizationInfo.funcInfo, [17, 18]);
  });
});

describe('wechatClient.apiGetAuthorizerList', () => {
  it('sends offset and count and maps missing or empty refresh tokens to undefined', async () => {
    // Prepare
    const { agent, client, calls, answer } = setup();
    answer(`${P}/api_get_authorizer_list`, { json: fixture('api_get_authorizer_list') });
    // Act
    const result = await client.apiGetAuthorizerList(TOKEN, { componentAppId: APPID, offset: 0, count: 500 });
    // Assess
    assert.deepEqual(calls[0]?.body, { component_appid: APPID, offset: 0, count: 500 });
    assert.deepEqual(result, {
      totalCount: 33,
      list: [
        { authorizerAppid: ACCOUNT, refreshToken: 'refreshtoken@@@dTo-YCXPL4llX-u1W1pPpnp8Hgm4wpJtlR6iV0doKdY', authTime: 1558000607 },
        { authorizerAppid: 'wx0123456789abcdef', authTime: 1558000700 },
        { authorizerAppid: 'wx7bc5ba58cabd00f4', authTime: 1558000801 },
      ],
    });
    agent.assertNoPendingInterceptors();
  });
});

describe('wechatClient options, quota, push and custom message calls', () => {
  it('post the documented bodies to the documented paths and resolve on errcode 0', async () => {
    // Prepare
    const { agent, client, calls, answer } = setup();
    answer(`${P}/api_get_authorizer_option`, { json: fixture('api_get_authorizer_option') });
    answer(`${P}/api_set_authorizer_option`, { json: fixture('ok') });
    answer(`${P}/clear_quota`, { json: fixture('ok') });
    answer(`${P}/api_start_push_ticket`, { json: fixture('ok') });
    answer('/cgi-bin/message/custom/send', { json: fixture('ok') });
    const account = { componentAppId: APPID, authorizerAppid: 'wx7bc5ba58cabd00f4' };
    // Act
    const option = await client.apiGetAuthorizerOption(TOKEN, { ...account, optionName: 'voice_recognize' });
    await client.apiSetAuthorizerOption(TOKEN, { ...account, optionName: 'voice_recognize', optionValue: '0' });
    await client.clearComponentQuota(TOKEN, { componentAppId: APPID });
    await client.apiStartPushTicket({ componentAppId: APPID, componentSecret: SECRET });
    await client.sendCustomText('authorizer-token-Q2w', { toUser: 'ozy4qt5QUADNXORxCVipKMV9dss0', content: 'TESTCOMPONENT_MSG_TYPE_TEXT_callback' });
    // Assess
    assert.deepEqual(option, { optionName: 'voice_recognize', optionValue: '1' });
    assert.deepEqual(
      calls.map((c) => [c.path, c.query, c.body]),
      [
        [`${P}/api_get_authorizer_option`, { component_access_token: TOKEN }, { ...toSnake(account), option_name: 'voice_recognize' }],
        [
          `${P}/api_set_authorizer_option`,
          { component_access_token: TOKEN },
          { ...toSnake(account), option_name: 'voice_recognize', option_value: '0' },
        ],
        [`${P}/clear_quota`, { component_access_token: TOKEN }, { component_appid: APPID }],
        [`${P}/api_start_push_ticket`, {}, { component_appid: APPID, component_secret: SECRET }],
        [
          '/cgi-bin/message/custom/send',
          { access_token: 'authorizer-token-Q2w' },
          { touser: 'ozy4qt5QUADNXORxCVipKMV9dss0', msgtype: 'text', text: { content: 'TESTCOMPONENT_MSG_TYPE_TEXT_callback' } },
        ],
      ],
    );
    agent.assertNoPendingInterceptors();
  });
});

const toSnake = (a: { componentAppId: string; authorizerAppid: string }) => ({
  component_appid: a.componentAppId,
  authorizer_appid: a.authorizerAppid,
});

describe('wechatClient errors', () => {
  it('throws WeChatApiError with api, errcode and the verbatim errmsg on every endpoint', async () => {
    // Prepare
    const { agent, client, answer } = setup();
    const rid = (code: number, msg: string) => ({ errcode: code, errmsg: `${msg} rid: 6523a1b2-${code}` });
    answer(`${P}/api_component_token`, { json: rid(61006, 'component ticket is invalid') });
    answer(`${P}/api_authorizer_token`, { json: rid(61023, 'refresh_token is invalid') });
    answer(`${P}/api_get_authorizer_info`, { json: rid(61003, 'component is not authorized by this account') });
    answer('/cgi-bin/message/custom/send', { json: rid(42001, 'access_token expired') });
    answer(`${P}/api_set_authorizer_option`, { json: { errcode: '61025', errmsg: 'read-only option' } });
    const account = { componentAppId: APPID, authorizerAppid: ACCOUNT };
    // Act
    const errors = await Promise.all([
      client.apiComponentToken({ componentAppId: APPID, componentAppSecret: SECRET, componentVerifyTicket: TICKET }).catch((e: unknown) => e),
      client.apiAuthorizerToken(TOKEN, { ...account, authorizerRefreshToken: 'refreshtoken@@@r1' }).catch((e: unknown) => e),
      client.apiGetAuthorizerInfo(TOKEN, account).catch((e: unknown) => e),
      client.sendCustomText('authorizer-token-Q2w', { toUser: 'o1', content: 'hi' }).catch((e: unknown) => e),
      client.apiSetAuthorizerOption(TOKEN, { ...account, optionName: 'customer_service', optionValue: '0' }).catch((e: unknown) => e),
    ]);
    // Assess
    const summary = errors.map((e) => (e instanceof WeChatApiError ? [e.api, e.errcode, e.errmsg] : e));
    assert.deepEqual(summary, [
      ['component/api_component_token', 61006, 'component ticket is invalid rid: 6523a1b2-61006'],
      ['component/api_authorizer_token', 61023, 'refresh_token is invalid rid: 6523a1b2-61023'],
      ['component/api_get_authorizer_info', 61003, 'component is not authorized by this account rid: 6523a1b2-61003'],
      ['message/custom/send', 42001, 'access_token expired rid: 6523a1b2-42001'],
      ['component/api_set_authorizer_option', 61025, 'read-only option'],
    ]);
    assert.deepEqual(
      [isTicketInvalid, isRefreshTokenInvalid, isRevoked, isTokenInvalid].map((fn, i) => fn(errors[i])),
      [true, true, true, true],
    );
    agent.assertNoPendingInterceptors();
  });

  it('throws WeChatProtocolError for a non-JSON body and for a 4xx status, without retrying', async () => {
    // Prepare
    const { agent, client, calls, answer } = setup();
    answer(`${P}/api_create_preauthcode`, { text: '<html>bad gateway page</html>' });
    answer(`${P}/api_create_preauthcode`, { status: 404, text: 'not found' });
    // Act
    const notJson = await client.apiCreatePreauthcode(TOKEN, { componentAppId: APPID }).catch((e: unknown) => e);
    const notFound = await client.apiCreatePreauthcode(TOKEN, { componentAppId: APPID }).catch((e: unknown) => e);
    // Assess
    assert.ok(notJson instanceof WeChatProtocolError && notJson.reason === 'body is not JSON');
    assert.ok(notFound instanceof WeChatProtocolError && notFound.statusCode === 404);
    assert.equal(calls.length, 2);
    agent.assertNoPendingInterceptors();
  });
});

describe('wechatClient retries', () => {
  it('retries errcode -1 and returns the later success, logging the retry', async () => {
    // Prepare
    const { agent, client, calls, answer, logger } = setup();
    answer(`${P}/api_component_token`, { json: { errcode: -1, errmsg: 'system error' } });
    answer(`${P}/api_component_token`, { json: fixture('api_component_token') });
    // Act
    const result = await client.apiComponentToken({ componentAppId: APPID, componentAppSecret: SECRET, componentVerifyTicket: TICKET });
    // Assess
    assert.equal(result.expiresIn, 7200);
    assert.equal(calls.length, 2);
    const retries = logger.records().filter((r) => r.event === 'wechat.retry');
    assert.deepEqual(
      retries.map((r) => [r.level, r.api, r.attempt, r.errcode]),
      [['warn', 'component/api_component_token', 1, -1]],
    );
    agent.assertNoPendingInterceptors();
  });

  it('gives up after maxRetries with the last -1 as a WeChatApiError', async () => {
    // Prepare
    const { agent, client, calls, answer, logger } = setup({ maxRetries: 2 });
    for (let i = 0; i < 3; i += 1) answer(`${P}/api_get_authorizer_list`, { json: { errcode: -1, errmsg: `system error rid: r${i}` } });
    // Act & Assess
    await assert.rejects(
      client.apiGetAuthorizerList(TOKEN, { componentAppId: APPID, offset: 0, count: 100 }),
      (e: unknown) => e instanceof WeChatApiError && e.errcode === -1 && e.errmsg === 'system error rid: r2',
    );
    assert.equal(calls.length, 3);
    assert.equal(logger.records().filter((r) => r.event === 'wechat.retry').length, 2);
    agent.assertNoPendingInterceptors();
  });

  it('does not retry 40001: the token service owns that recovery', async () => {
    // Prepare
    const { agent, client, calls, answer, logger } = setup();
    answer(`${P}/api_create_preauthcode`, { json: { errcode: 40001, errmsg: 'invalid credential, access_token is invalid or not latest' } });
    // Act & Assess
    await assert.rejects(client.apiCreatePreauthcode(TOKEN, { componentAppId: APPID }), (e: unknown) => isTokenInvalid(e));
    assert.equal(calls.length, 1);
    assert.equal(logger.lines.length, 0);
    agent.assertNoPendingInterceptors();
  });

  it('turns repeated timeouts into a WeChatNetworkError after bounded attempts', async () => {
    // Prepare
    const { agent, client, answer } = setup({ timeoutMs: 40, maxRetries: 2 });
    for (let i = 0; i < 3; i += 1) answer(`${P}/api_get_authorizer_info`, { json: fixture('api_get_authorizer_info'), delayMs: 400 });
    const started = Date.now();
    // Act
    const error = await client.apiGetAuthorizerInfo(TOKEN, { componentAppId: APPID, authorizerAppid: ACCOUNT }).catch((e: unknown) => e);
    // Assess
    const elapsed = Date.now() - started;
    assert.ok(error instanceof WeChatNetworkError, String(error));
    assert.deepEqual([error.api, error.attempts, error.timedOut], ['component/api_get_authorizer_info', 3, true]);
    assert.ok(elapsed >= 120 && elapsed < 380, `took ${elapsed} ms`);
    agent.assertNoPendingInterceptors();
  });

  it('retries a 5xx and a reset connection for read-only calls', async () => {
    // Prepare
    const { agent, client, answer } = setup();
    answer(`${P}/api_get_authorizer_option`, { status: 503, text: 'Service Unavailable' });
    answer(`${P}/api_get_authorizer_option`, { error: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });
    answer(`${P}/api_get_authorizer_option`, { json: fixture('api_get_authorizer_option') });
    // Act
    const option = await client.apiGetAuthorizerOption(TOKEN, { componentAppId: APPID, authorizerAppid: ACCOUNT, optionName: 'voice_recognize' });
    // Assess
    assert.equal(option.optionValue, '1');
    agent.assertNoPendingInterceptors();
  });

  it('never repeats a token mint or a code exchange after an ambiguous failure', async () => {
    // Prepare
    const { agent, client, answer, logger } = setup({ timeoutMs: 40 });
    answer(`${P}/api_query_auth`, { json: fixture('api_query_auth'), delayMs: 200 });
    answer(`${P}/api_component_token`, { error: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) });
    answer(`${P}/api_authorizer_token`, { status: 502, text: 'Bad Gateway' });
    // Act
    const errors = await Promise.all([
      client.apiQueryAuth(TOKEN, { componentAppId: APPID, authorizationCode: 'queryauthcode@@@once' }).catch((e: unknown) => e),
      client.apiComponentToken({ componentAppId: APPID, componentAppSecret: SECRET, componentVerifyTicket: TICKET }).catch((e: unknown) => e),
      client
        .apiAuthorizerToken(TOKEN, { componentAppId: APPID, authorizerAppid: ACCOUNT, authorizerRefreshToken: 'refreshtoken@@@r1' })
        .catch((e: unknown) => e),
    ]);
    // Assess
    assert.ok(errors[0] instanceof WeChatNetworkError && errors[0].attempts === 1 && errors[0].timedOut);
    assert.ok(errors[1] instanceof WeChatNetworkError && errors[1].attempts === 1 && !errors[1].timedOut);
    assert.ok(errors[2] instanceof WeChatProtocolError && errors[2].statusCode === 502);
    assert.equal(logger.records().filter((r) => r.event === 'wechat.retry').length, 0);
    agent.assertNoPendingInterceptors();
  });

  it('still retries a code exchange when the connection was refused, since nothing reached WeChat', async () => {
    // Prepare
    const { agent, client, answer } = setup();
    answer(`${P}/api_query_auth`, { error: Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' }) });
    answer(`${P}/api_query_auth`, { json: fixture('api_query_auth') });
    // Act
    const result = await client.apiQueryAuth(TOKEN, { componentAppId: APPID, authorizationCode: 'queryauthcode@@@once' });
    // Assess
    assert.equal(result.authorizerAppid, ACCOUNT);
    agent.assertNoPendingInterceptors();
  });

  it('logs retries with ids only: no token, secret, ticket or code in any line', async () => {
    // Prepare
    const { agent, client, answer, logger } = setup();
    const code = 'queryauthcode@@@secret-code-77';
    answer(`${P}/api_component_token`, { json: { errcode: -1, errmsg: 'system error' } });
    answer(`${P}/api_component_token`, { json: fixture('api_component_token') });
    answer(`${P}/api_query_auth`, { error: Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' }) });
    answer(`${P}/api_query_auth`, { json: fixture('api_query_auth') });
    // Act
    const { componentAccessToken } = await client.apiComponentToken({
      componentAppId: APPID,
      componentAppSecret: SECRET,
      componentVerifyTicket: TICKET,
    });
    const auth = await client.apiQueryAuth(componentAccessToken, { componentAppId: APPID, authorizationCode: code });
    // Assess
    const retries = logger.records().filter((r) => r.event === 'wechat.retry');
    assert.equal(retries.length, 2);
    for (const record of retries) {
      assert.deepEqual(
        Object.keys(record).sort(),
        [
          'api',
          'attempt',
          'delayMs',
          'event',
          'level',
          'time',
          ...('errcode' in record ? ['errcode'] : []),
          ...('timedOut' in record ? ['timedOut'] : []),
        ].sort(),
      );
    }
    const all = logger.lines.join('\n');
    for (const value of [SECRET, TICKET, code, componentAccessToken, auth.authorizerAccessToken!, auth.authorizerRefreshToken!]) {
      assert.ok(!all.includes(value), 'a credential reached the log');
    }
    agent.assertNoPendingInterceptors();
  });
});

describe('createWeChatDeps', () => {
  it('builds a client on config.wechatApiBaseUrl that uses the injected dispatcher and the deps logger', async () => {
    // Prepare
    const agent = new MockAgent();
    agent.disableNetConnect();
    agents.push(agent);
    const config = loadConfig({
      COMPONENT_APPID: APPID,
      COMPONENT_APPSECRET: SECRET,
      COMPONENT_TOKEN: 'spamtest',
      COMPONENT_ENCODING_AES_KEY: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
      TABLE_NAME: 't',
      PUBLIC_BASE_URL: 'https://example.com',
      WECHAT_API_BASE_URL: 'http://simulator.test:8123',
    });
    const logger = createMemoryLogger();
    agent
      .get('http://simulator.test:8123')
      .intercept({ path: `${P}/api_create_preauthcode?component_access_token=${TOKEN}`, method: 'POST' })
      .reply(200, { errcode: -1, errmsg: 'system error' });
    agent
      .get('http://simulator.test:8123')
      .intercept({ path: `${P}/api_create_preauthcode?component_access_token=${TOKEN}`, method: 'POST' })
      .reply(200, fixture('api_create_preauthcode'));
    // Act
    const deps = createWeChatDeps(config, config.secrets!, { dispatcher: agent, logger });
    const result = await deps.wechat.apiCreatePreauthcode(TOKEN, { componentAppId: APPID });
    // Assess
    assert.equal(result.expiresIn, 1800);
    assert.equal(deps.tableName, 't');
    assert.equal(logger.records().filter((r) => r.event === 'wechat.retry').length, 1);
    agent.assertNoPendingInterceptors();
  });
});

describe('wechatClient over a real socket', () => {
  it('bounds the whole attempt, body included, when WeChat trickles a body that never ends', { timeout: 5000 }, async () => {
    // Prepare: a byte every 30 ms keeps undici's idle bodyTimeout from ever firing; only the total bound can.
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"pre_auth_code":"preauthcode@@@');
      const timer = setInterval(() => res.write('x'), 30);
      res.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = createWeChatClient({
      baseUrl: `http://127.0.0.1:${port}`,
      logger: createMemoryLogger(),
      timeoutMs: 150,
      maxRetries: 1,
      retryBaseMs: 1,
    });
    const started = Date.now();
    try {
      // Act
      const error = await client.apiCreatePreauthcode(TOKEN, { componentAppId: APPID }).catch((e: unknown) => e);
      // Assess
      const elapsed = Date.now() - started;
      assert.ok(error instanceof WeChatNetworkError && error.timedOut && error.attempts === 2, String(error));
      assert.ok(elapsed >= 300 && elapsed < 900, `took ${elapsed} ms`);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('wechatClient transport', () => {
  it("takes Agent and request() from the modules undici's own index exports them from", () => {
    // The client imports them directly (lib/wechat/client.ts): an undici upgrade that moves them fails here.
    assert.equal(DeepAgent, undici.Agent);
    assert.equal(deepRequest, (undici.Dispatcher.prototype as unknown as { request: unknown }).request);
  });
});
