import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { SIMULATOR_COMPONENT } from '../../infra/local/credentials.ts';
import { startSimulator, type Simulator } from '../../infra/local/simulator/index.ts';
import { createMemoryLogger } from '../../lib/kernel/logger.ts';
import { createWeChatClient } from '../../lib/wechat/client.ts';
import { computeSignature, keysFrom, openEnvelope } from '../../lib/wechat/crypto.ts';

interface ReceivedPush {
  readonly query: URLSearchParams;
  readonly contentType: string | undefined;
  readonly body: string;
}

/** A tiny stand-in for the platform's event URL: records every push and answers `success`. */
const startReceiver = async (port = 0) => {
  const pushes: ReceivedPush[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://receiver');
      pushes.push({ query: url.searchParams, contentType: request.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
      response.end('success');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}/wechat/component/events`,
    port: address.port,
    pushes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};

const keys = keysFrom(SIMULATOR_COMPONENT, SIMULATOR_COMPONENT.appId);

/** Verifies and decrypts a push exactly as the platform does; returns the inner XML. */
const openPush = (push: ReceivedPush): string => {
  const encrypt = /<Encrypt><!\[CDATA\[([^\]]+)\]\]><\/Encrypt>/.exec(push.body)?.[1] ?? '';
  return openEnvelope(keys, {
    encrypt,
    msgSignature: push.query.get('msg_signature') ?? '',
    timestamp: push.query.get('timestamp') ?? '',
    nonce: push.query.get('nonce') ?? '',
  });
};

const element = (xml: string, name: string): string | undefined =>
  new RegExp(`<${name}>(?:<!\\[CDATA\\[)?([^<\\]]*)(?:\\]\\]>)?</${name}>`).exec(xml)?.[1];

const waitFor = async <T>(probe: () => T | undefined, timeoutMs = 3000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await delay(10);
  }
};

type Json = Record<string, unknown>;

const post = async (base: string, path: string, body: unknown): Promise<Json> => {
  const response = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return (await response.json()) as Json;
};

const START = Date.parse('2026-01-01T00:00:00Z');

describe('WeChat simulator', () => {
  let now = START;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let sim: Simulator;
  const logLines: string[] = [];
  const component = { component_appid: SIMULATOR_COMPONENT.appId };

  const componentToken = async (): Promise<string> => {
    const ticket = sim.latestTicket();
    const body = await post(sim.url, '/cgi-bin/component/api_component_token', {
      ...component,
      component_appsecret: SIMULATOR_COMPONENT.appSecret,
      component_verify_ticket: ticket,
    });
    assert.equal(typeof body.component_access_token, 'string', JSON.stringify(body));
    return body.component_access_token as string;
  };
  const withToken = (path: string, token: string) => `${path}?component_access_token=${encodeURIComponent(token)}`;

  before(async () => {
    receiver = await startReceiver();
    sim = await startSimulator({ pushUrl: receiver.url, ticketIntervalMs: 0, clock: () => now, log: (line) => logLines.push(line) });
  });
  after(async () => {
    await sim.stop();
    await receiver.close();
    // Assess (whole suite): no log line ever carried a credential-shaped value or the app secret.
    assert.ok(logLines.length > 0);
    for (const line of logLines) {
      assert.doesNotMatch(line, /@@@/);
      assert.ok(!line.includes(SIMULATOR_COMPONENT.appSecret));
    }
  });
  beforeEach(() => {
    now = START;
  });

  it('pushes an encrypted, signed component_verify_ticket at start that the platform can open', async () => {
    // Act
    const push = await waitFor(() => receiver.pushes[0]);
    const inner = openPush(push);
    // Assess
    assert.equal(push.contentType, 'text/xml');
    assert.match(push.body, new RegExp(`^<xml><AppId><!\\[CDATA\\[${SIMULATOR_COMPONENT.appId}\\]\\]></AppId><Encrypt><!\\[CDATA\\[`));
    assert.equal(push.query.get('encrypt_type'), 'aes');
    const [timestamp, nonce] = [push.query.get('timestamp')!, push.query.get('nonce')!];
    assert.equal(push.query.get('signature'), computeSignature(SIMULATOR_COMPONENT.token, timestamp, nonce));
    assert.equal(element(inner, 'InfoType'), 'component_verify_ticket');
    assert.equal(element(inner, 'AppId'), SIMULATOR_COMPONENT.appId);
    assert.equal(element(inner, 'CreateTime'), String(START / 1000));
    assert.match(element(inner, 'ComponentVerifyTicket') ?? '', /^ticket@@@[\w-]{40,}$/);
    assert.equal(element(inner, 'ComponentVerifyTicket'), sim.latestTicket());
    await waitFor(() => logLines.find((l) => l === 'push component_verify_ticket → 200 success'));
  });

  it('issues a component token for a pushed ticket and refuses bad credentials with WeChat codes', async () => {
    // Prepare
    const ticket = element(openPush(await waitFor(() => receiver.pushes[0])), 'ComponentVerifyTicket');
    const request = { ...component, component_appsecret: SIMULATOR_COMPONENT.appSecret, component_verify_ticket: ticket };
    const path = '/cgi-bin/component/api_component_token';
    // Act
    const ok = await post(sim.url, path, request);
    const unknownTicket = await post(sim.url, path, { ...request, component_verify_ticket: 'ticket@@@unknown' });
    const badSecret = await post(sim.url, path, { ...request, component_appsecret: 'nope' });
    const badAppid = await post(sim.url, path, { ...request, component_appid: 'wx0000000000000000' });
    now = START + 12 * 3600 * 1000;
    const expiredTicket = await post(sim.url, path, request);
    // Assess
    assert.equal(ok.expires_in, 7200);
    assert.match(ok.component_access_token as string, /^[\w-]{100,}$/);
    assert.equal(ok.errcode, undefined);
    assert.equal(unknownTicket.errcode, 61006);
    assert.match(unknownTicket.errmsg as string, /^component ticket is invalid rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
    assert.equal(badSecret.errcode, 40125);
    assert.equal(badAppid.errcode, 40013);
    assert.equal(expiredTicket.errcode, 61005);
  });

  it('answers 40001 once a component token expires, and keeps the previous token for 5 minutes after a new one', async () => {
    // Prepare
    const first = await componentToken();
    const second = await componentToken();
    const preauth = (token: string) => post(sim.url, withToken('/cgi-bin/component/api_create_preauthcode', token), component);
    // Act
    now = START + 299_000;
    const firstWithinOverlap = await preauth(first);
    now = START + 301_000;
    const firstAfterOverlap = await preauth(first);
    const secondStill = await preauth(second);
    now = START + 7200_000;
    const secondExpired = await preauth(second);
    // Assess
    assert.match(firstWithinOverlap.pre_auth_code as string, /^preauthcode@@@/);
    assert.equal(firstWithinOverlap.expires_in, 1800);
    assert.equal(firstAfterOverlap.errcode, 40001);
    assert.match(secondStill.pre_auth_code as string, /^preauthcode@@@/);
    assert.equal(secondExpired.errcode, 40001);
  });

  it('accepts the token as access_token too, and reports 41001 without one', async () => {
    // Prepare
    const token = await componentToken();
    // Act
    const byNewName = await post(sim.url, `/cgi-bin/component/api_create_preauthcode?access_token=${encodeURIComponent(token)}`, component);
    const without = await post(sim.url, '/cgi-bin/component/api_create_preauthcode', component);
    // Assess
    assert.match(byNewName.pre_auth_code as string, /^preauthcode@@@/);
    assert.equal(without.errcode, 41001);
  });

  it('exchanges an authorization code once: 61009 the second time, 61010 once expired', async () => {
    // Prepare
    const token = await componentToken();
    const { authorizerAppid, authorizationCode } = await sim.authorize({ push: false, funcInfo: [1, 15] });
    const { authorizationCode: lateCode } = await sim.authorize({ push: false });
    const queryAuth = (code: string) =>
      post(sim.url, withToken('/cgi-bin/component/api_query_auth', token), { ...component, authorization_code: code });
    // Act
    const first = await queryAuth(authorizationCode);
    const second = await queryAuth(authorizationCode);
    now = START + 3600_000;
    const expired = await queryAuth(lateCode);
    // Assess
    const info = first.authorization_info as Json;
    assert.equal(info.authorizer_appid, authorizerAppid);
    assert.equal(info.expires_in, 7200);
    assert.match(info.authorizer_refresh_token as string, /^refreshtoken@@@/);
    assert.equal(info.authorizer_refresh_token, sim.accounts().find((a) => a.appid === authorizerAppid)?.refreshToken);
    assert.deepEqual(
      (info.func_info as { funcscope_category: { id: number } }[]).map((f) => f.funcscope_category.id),
      [1, 15],
    );
    assert.equal(second.errcode, 61009);
    assert.equal(expired.errcode, 61010);
  });

  it('refreshes authorizer tokens only with the current refresh token: 61023 otherwise, 61003 after unauthorization', async () => {
    // Prepare
    const token = await componentToken();
    const { authorizerAppid } = await sim.authorize({ push: false });
    const refresh = (refreshToken: string | undefined) =>
      post(sim.url, withToken('/cgi-bin/component/api_authorizer_token', token), {
        ...component,
        authorizer_appid: authorizerAppid,
        authorizer_refresh_token: refreshToken,
      });
    const original = sim.accounts().find((a) => a.appid === authorizerAppid)!.refreshToken;
    // Act
    const wrong = await refresh('refreshtoken@@@wrong');
    const right = await refresh(original);
    sim.setRefreshTokenRotation(true);
    const rotated = await refresh(original);
    const oldAfterRotation = await refresh(original);
    sim.setRefreshTokenRotation(false);
    await sim.unauthorize(authorizerAppid, { push: false });
    const revoked = await refresh(rotated.authorizer_refresh_token as string);
    // Assess
    assert.equal(wrong.errcode, 61023);
    assert.equal(typeof right.authorizer_access_token, 'string');
    assert.equal(right.authorizer_refresh_token, original);
    assert.notEqual(rotated.authorizer_refresh_token, original);
    assert.match(rotated.authorizer_refresh_token as string, /^refreshtoken@@@/);
    assert.equal(oldAfterRotation.errcode, 61023);
    assert.equal(revoked.errcode, 61003);
  });

  it('answers injected errors for the given number of calls, then behaves normally, and counts every call', async () => {
    // Prepare
    const token = await componentToken();
    sim.resetCounters();
    sim.inject({ api: 'api_create_preauthcode', errcode: -1 });
    const preauth = () => post(sim.url, withToken('/cgi-bin/component/api_create_preauthcode', token), component);
    // Act
    const injected = await preauth();
    const normal = await preauth();
    // Assess
    assert.equal(injected.errcode, -1);
    assert.match(injected.errmsg as string, /^system error rid: /);
    assert.match(normal.pre_auth_code as string, /^preauthcode@@@/);
    assert.equal(sim.calls('api_create_preauthcode'), 2);
    assert.equal(sim.calls(), 2);
    assert.deepEqual(
      sim.callLog.map((c) => [c.api, c.errcode]),
      [
        ['api_create_preauthcode', -1],
        ['api_create_preauthcode', 0],
      ],
    );
  });

  it('records customer-service text messages sent with an authorizer token and refuses bad tokens with 40001', async () => {
    // Prepare
    const token = await componentToken();
    const { authorizerAppid, authorizationCode } = await sim.authorize({ push: false });
    const auth = await post(sim.url, withToken('/cgi-bin/component/api_query_auth', token), { ...component, authorization_code: authorizationCode });
    const accessToken = (auth.authorization_info as Json).authorizer_access_token as string;
    const message = { touser: 'oUser123', msgtype: 'text', text: { content: 'CODE_from_api' } };
    // Act
    const sent = await post(sim.url, `/cgi-bin/message/custom/send?access_token=${encodeURIComponent(accessToken)}`, message);
    const refused = await post(sim.url, '/cgi-bin/message/custom/send?access_token=not-a-token', message);
    // Assess
    assert.deepEqual(sent, { errcode: 0, errmsg: 'ok' });
    assert.equal(refused.errcode, 40001);
    const recorded = sim.customerMessages().filter((m) => m.authorizerAppid === authorizerAppid);
    assert.deepEqual(recorded, [{ toUser: 'oUser123', content: 'CODE_from_api', authorizerAppid, at: START }]);
  });

  it('plays an owner authorizing: an authorized push carrying the code and the pre-auth code the platform created', async () => {
    // Prepare
    const token = await componentToken();
    const created = await post(sim.url, withToken('/cgi-bin/component/api_create_preauthcode', token), component);
    const before = receiver.pushes.length;
    // Act
    const result = await sim.authorize({ kind: 'miniprogram', nickName: 'Demo Mini' });
    const inner = openPush(await waitFor(() => receiver.pushes[before]));
    // Assess
    assert.equal(result.pushStatus, 200);
    assert.equal(element(inner, 'InfoType'), 'authorized');
    assert.equal(element(inner, 'AuthorizerAppid'), result.authorizerAppid);
    assert.equal(element(inner, 'AuthorizationCode'), result.authorizationCode);
    assert.equal(element(inner, 'AuthorizationCodeExpiredTime'), String(START / 1000 + 3600));
    assert.equal(element(inner, 'PreAuthCode'), created.pre_auth_code);
    assert.equal(sim.landingQuery(result.authorizationCode), `?auth_code=${result.authorizationCode}&expires_in=3600`);
  });

  it('pushes updateauthorized with a new code and refresh token on re-authorization, and unauthorized on revocation', async () => {
    // Prepare
    const token = await componentToken();
    const before = receiver.pushes.length;
    const first = await sim.authorize({ withPreAuthCode: false });
    const refreshBefore = sim.accounts().find((a) => a.appid === first.authorizerAppid)!.refreshToken;
    // Act
    const again = await sim.reauthorize(first.authorizerAppid);
    const refreshAfter = sim.accounts().find((a) => a.appid === first.authorizerAppid)!.refreshToken;
    await sim.unauthorize(first.authorizerAppid);
    const authorized = openPush(await waitFor(() => receiver.pushes[before]));
    const update = openPush(await waitFor(() => receiver.pushes[before + 1]));
    const revoke = openPush(await waitFor(() => receiver.pushes[before + 2]));
    const info = await post(sim.url, withToken('/cgi-bin/component/api_get_authorizer_info', token), {
      ...component,
      authorizer_appid: first.authorizerAppid,
    });
    // Assess
    assert.equal(element(authorized, 'InfoType'), 'authorized');
    assert.equal(element(authorized, 'PreAuthCode'), undefined);
    assert.equal(element(update, 'InfoType'), 'updateauthorized');
    assert.equal(element(update, 'AuthorizationCode'), again.authorizationCode);
    assert.notEqual(again.authorizationCode, first.authorizationCode);
    assert.match(element(update, 'PreAuthCode') ?? '', /^preauthcode@@@/);
    assert.match(refreshAfter ?? '', /^refreshtoken@@@/);
    assert.notEqual(refreshAfter, refreshBefore);
    assert.equal(element(revoke, 'InfoType'), 'unauthorized');
    assert.equal(element(revoke, 'AuthorizerAppid'), first.authorizerAppid);
    assert.equal(element(revoke, 'AuthorizationCode'), undefined);
    assert.equal(sim.accounts().find((a) => a.appid === first.authorizerAppid)!.refreshToken, undefined);
    assert.equal(info.errcode, 61003);
  });

  it('describes authorized accounts through api_get_authorizer_info, the paginated list and the options', async () => {
    // Prepare
    const token = await componentToken();
    const official = await sim.authorize({ push: false, nickName: 'Demo Official', userName: 'gh_0123456789ab' });
    const mini = await sim.authorize({ push: false, kind: 'miniprogram' });
    const call = (api: string, body: Json) => post(sim.url, withToken(`/cgi-bin/component/${api}`, token), { ...component, ...body });
    // Act
    const officialInfo = await call('api_get_authorizer_info', { authorizer_appid: official.authorizerAppid });
    const miniInfo = await call('api_get_authorizer_info', { authorizer_appid: mini.authorizerAppid });
    const page = await call('api_get_authorizer_list', { offset: 0, count: 500 });
    const tooMany = await call('api_get_authorizer_list', { offset: 0, count: 501 });
    const set = await call('api_set_authorizer_option', {
      authorizer_appid: official.authorizerAppid,
      option_name: 'voice_recognize',
      option_value: '1',
    });
    const got = await call('api_get_authorizer_option', { authorizer_appid: official.authorizerAppid, option_name: 'voice_recognize' });
    // Assess
    const oi = officialInfo.authorizer_info as Json;
    assert.equal(oi.nick_name, 'Demo Official');
    assert.equal(oi.user_name, 'gh_0123456789ab');
    assert.deepEqual(oi.service_type_info, { id: 2 });
    assert.equal(oi.MiniProgramInfo, undefined);
    assert.equal((officialInfo.authorization_info as Json).authorizer_appid, official.authorizerAppid);
    assert.ok((miniInfo.authorizer_info as Json).MiniProgramInfo);
    const list = page.list as Json[];
    assert.equal(page.total_count, list.length);
    const entry = list.find((e) => e.authorizer_appid === mini.authorizerAppid)!;
    assert.match(entry.refresh_token as string, /^refreshtoken@@@/);
    assert.equal(entry.auth_time, START / 1000);
    assert.equal(tooMany.errcode, 40097);
    assert.deepEqual(set, { errcode: 0, errmsg: 'ok' });
    assert.deepEqual(got, { authorizer_appid: official.authorizerAppid, option_name: 'voice_recognize', option_value: '1' });
  });

  it('pushes a fresh ticket after api_start_push_ticket, and refuses a wrong secret', async () => {
    // Prepare
    const before = receiver.pushes.length;
    const ticketBefore = sim.latestTicket();
    // Act
    const refused = await post(sim.url, '/cgi-bin/component/api_start_push_ticket', { ...component, component_secret: 'wrong' });
    const started = await post(sim.url, '/cgi-bin/component/api_start_push_ticket', {
      ...component,
      component_secret: SIMULATOR_COMPONENT.appSecret,
    });
    const inner = openPush(await waitFor(() => receiver.pushes[before]));
    // Assess
    assert.equal(refused.errcode, 40125);
    assert.deepEqual(started, { errcode: 0, errmsg: 'ok' });
    assert.equal(element(inner, 'ComponentVerifyTicket'), sim.latestTicket());
    assert.notEqual(sim.latestTicket(), ticketBefore);
  });

  it('answers bad JSON with 47001, a wrong method with 43002, and unknown paths with 404', async () => {
    // Act
    const badJson = await fetch(`${sim.url}/cgi-bin/component/api_component_token`, { method: 'POST', body: '{not json' });
    const wrongMethod = await fetch(`${sim.url}/cgi-bin/component/api_component_token`);
    const unknown = await fetch(`${sim.url}/cgi-bin/component/nothing_here`, { method: 'POST', body: '{}' });
    // Assess
    assert.equal(badJson.status, 200);
    assert.equal(((await badJson.json()) as Json).errcode, 47001);
    assert.equal(((await wrongMethod.json()) as Json).errcode, 43002);
    assert.equal(unknown.status, 404);
  });

  it('delays API calls by the configured latency', async () => {
    // Prepare
    sim.setLatency(150, 'api_component_token');
    // Act
    const started = performance.now();
    await componentToken();
    const elapsed = performance.now() - started;
    sim.setLatency(0, 'api_component_token');
    // Assess
    assert.ok(elapsed >= 140, `took ${elapsed} ms`);
  });

  it('serves the same controls as JSON under /__sim/', async () => {
    // Prepare
    await post(sim.url, '/__sim/reset-counters', {});
    // Act
    const injected = await post(sim.url, '/__sim/inject', { api: 'api_component_token', errcode: 45009, times: 1 });
    const quota = await post(sim.url, '/cgi-bin/component/api_component_token', {});
    const calls = (await (await fetch(`${sim.url}/__sim/calls`)).json()) as Json;
    const one = (await (await fetch(`${sim.url}/__sim/calls?api=api_component_token`)).json()) as Json;
    const authorized = await post(sim.url, '/__sim/authorize', { nickName: 'Over HTTP', push: false });
    const accounts = (await (await fetch(`${sim.url}/__sim/accounts`)).json()) as { accounts: { appid: string; nickName: string }[] };
    const pushed = await post(sim.url, '/__sim/push-ticket', {});
    const messages = (await (await fetch(`${sim.url}/__sim/messages`)).json()) as { messages: unknown[] };
    const badInput = await fetch(`${sim.url}/__sim/inject`, { method: 'POST', body: '{"errcode":1}' });
    const unknownAccount = await fetch(`${sim.url}/__sim/unauthorize`, { method: 'POST', body: '{"authorizerAppid":"wxnobody"}' });
    const unknownControl = await fetch(`${sim.url}/__sim/nothing`);
    // Assess
    assert.deepEqual(injected, { ok: true });
    assert.equal(quota.errcode, 45009);
    assert.equal(calls.total, 1);
    assert.deepEqual(calls.counts, { api_component_token: 1 });
    assert.deepEqual(one, { api: 'api_component_token', count: 1 });
    assert.match(authorized.authorizationCode as string, /^queryauthcode@@@/);
    assert.equal(authorized.landingQuery, `?auth_code=${authorized.authorizationCode as string}&expires_in=3600`);
    assert.equal(accounts.accounts.find((a) => a.appid === authorized.authorizerAppid)?.nickName, 'Over HTTP');
    assert.deepEqual(pushed, { status: 200, body: 'success' });
    assert.ok(Array.isArray(messages.messages));
    assert.equal(badInput.status, 400);
    assert.equal(unknownAccount.status, 404);
    assert.equal(unknownControl.status, 404);
  });
});

describe('WeChat simulator pusher', () => {
  it('keeps retrying the start-up ticket push until the platform is up', async () => {
    // Prepare: reserve a port, then free it so nothing listens there yet.
    const probe = await startReceiver();
    const { port } = probe;
    await probe.close();
    const lines: string[] = [];
    const sim = await startSimulator({ pushUrl: `http://127.0.0.1:${port}/wechat/component/events`, ticketIntervalMs: 0, log: (l) => lines.push(l) });
    try {
      // Act
      await delay(300);
      const late = await startReceiver(port);
      const push = await waitFor(() => late.pushes[0], 5000);
      await late.close();
      // Assess
      assert.equal(element(openPush(push), 'ComponentVerifyTicket'), sim.latestTicket());
      await waitFor(() => lines.find((l) => l === 'push component_verify_ticket → 200 success'));
    } finally {
      await sim.stop();
    }
  });

  it('pushes a ticket every ticketIntervalMs and logs a push nobody answered without failing', async () => {
    // Prepare
    const receiver = await startReceiver();
    const lines: string[] = [];
    const sim = await startSimulator({ pushUrl: receiver.url, ticketIntervalMs: 100, log: (l) => lines.push(l) });
    try {
      // Act
      await waitFor(() => (receiver.pushes.length >= 3 ? true : undefined));
      await receiver.close();
      await waitFor(() => lines.find((l) => l.startsWith('push component_verify_ticket → 0 no answer')));
      const direct = await sim.pushTicket();
      // Assess
      assert.equal(direct.status, 0);
      const tickets = receiver.pushes.map((p) => element(openPush(p), 'ComponentVerifyTicket'));
      assert.equal(new Set(tickets).size, tickets.length);
    } finally {
      await sim.stop();
    }
  });
});

describe('WeChat simulator with the platform client', () => {
  it('serves the whole component API flow to createWeChatClient, retrying an injected system error', async () => {
    // Prepare
    const sim = await startSimulator({ ticketIntervalMs: 0 });
    const client = createWeChatClient({ baseUrl: sim.url, logger: createMemoryLogger(), retryBaseMs: 1 });
    const componentAppId = SIMULATOR_COMPONENT.appId;
    try {
      await sim.pushTicket();
      sim.inject({ api: 'api_create_preauthcode', errcode: -1 });
      // Act
      const { componentAccessToken, expiresIn } = await client.apiComponentToken({
        componentAppId,
        componentAppSecret: SIMULATOR_COMPONENT.appSecret,
        componentVerifyTicket: sim.latestTicket()!,
      });
      const { preAuthCode } = await client.apiCreatePreauthcode(componentAccessToken, { componentAppId });
      const { authorizerAppid, authorizationCode } = await sim.authorize({ nickName: 'Client Flow', funcInfo: [1, 2] });
      const auth = await client.apiQueryAuth(componentAccessToken, { componentAppId, authorizationCode });
      const refreshed = await client.apiAuthorizerToken(componentAccessToken, {
        componentAppId,
        authorizerAppid,
        authorizerRefreshToken: auth.authorizerRefreshToken!,
      });
      const info = await client.apiGetAuthorizerInfo(componentAccessToken, { componentAppId, authorizerAppid });
      const list = await client.apiGetAuthorizerList(componentAccessToken, { componentAppId, offset: 0, count: 100 });
      await client.sendCustomText(refreshed.authorizerAccessToken, { toUser: 'oClient', content: 'hello' });
      // Assess
      assert.equal(expiresIn, 7200);
      assert.match(preAuthCode, /^preauthcode@@@/);
      assert.equal(sim.calls('api_create_preauthcode'), 2);
      assert.equal(auth.authorizerAppid, authorizerAppid);
      assert.deepEqual(auth.funcInfo, [1, 2]);
      assert.equal(refreshed.expiresIn, 7200);
      assert.equal(info.authorizerInfo.nickName, 'Client Flow');
      assert.equal(info.authorizerInfo.isMiniProgram, false);
      assert.deepEqual(
        list.list.map((e) => e.authorizerAppid),
        [authorizerAppid],
      );
      assert.deepEqual(
        sim.customerMessages().map((m) => [m.toUser, m.content, m.authorizerAppid]),
        [['oClient', 'hello', authorizerAppid]],
      );
    } finally {
      await sim.stop();
    }
  });
});
