// The simulator's on-behalf APIs (infra/local/simulator/on-behalf.ts) as the platform's real WeChat client and a
// plain HTTP client see them: WeChat's shapes, single-use codes that expire, the token slots, the controls.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SIMULATOR_COMPONENT } from '../../infra/local/credentials.ts';
import { startSimulator, type Simulator } from '../../infra/local/simulator/index.ts';
import { createMemoryLogger } from '../../lib/kernel/logger.ts';
import { createWeChatClient, type WeChatClient } from '../../lib/wechat/client.ts';
import { WeChatApiError } from '../../lib/wechat/errors.ts';

const COMPONENT = SIMULATOR_COMPONENT.appId;
let sim: Simulator;
let wechat: WeChatClient;
let offsetMs = 0;

before(async () => {
  sim = await startSimulator({ autoPush: false, ticketIntervalMs: 0, clock: () => Date.now() + offsetMs });
  wechat = createWeChatClient({ baseUrl: sim.url, logger: createMemoryLogger(), maxRetries: 0 });
});
after(() => sim.stop());

const componentToken = async (): Promise<string> => {
  await sim.pushTicket();
  const answer = await wechat.apiComponentToken({
    componentAppId: COMPONENT,
    componentAppSecret: SIMULATOR_COMPONENT.appSecret,
    componentVerifyTicket: sim.latestTicket()!,
  });
  return answer.componentAccessToken;
};

/** An account authorized in the simulator and its authorizer access token. */
const account = async (kind: 'official' | 'miniprogram') => {
  const token = await componentToken();
  const { authorizerAppid, authorizationCode } = await sim.authorize({ kind, push: false });
  const auth = await wechat.apiQueryAuth(token, { componentAppId: COMPONENT, authorizationCode });
  return { appid: authorizerAppid, componentToken: token, authorizerToken: auth.authorizerAccessToken! };
};

const errcodeOf = (error: unknown): number | undefined => (error instanceof WeChatApiError ? error.errcode : undefined);

/** A raw GET, for what the platform's client would never send. */
const rawGet = async (path: string, query: Record<string, string>) => {
  const response = await fetch(`${sim.url}${path}?${new URLSearchParams(query)}`);
  return (await response.json()) as { errcode?: number; errmsg?: string };
};

describe('simulator getticket', () => {
  it('issues a 7200 s jsapi ticket per account and counts the calls', async () => {
    // Prepare
    const oa = await account('official');
    sim.resetCounters();
    // Act
    const first = await wechat.getJsapiTicket(oa.authorizerToken);
    const second = await wechat.getJsapiTicket(oa.authorizerToken);
    // Assess
    assert.equal(first.expiresIn, 7200);
    assert.notEqual(first.ticket, second.ticket);
    assert.equal(sim.calls('getticket'), 2);
    assert.deepEqual(sim.callLog.at(-1)?.params, ['access_token', 'type']);
  });

  it('answers 40001 to an authorizer token WeChat no longer accepts, and to the component token', async () => {
    // Prepare
    const oa = await account('official');
    sim.expireAuthorizerToken(oa.appid);
    // Act
    const stale = await wechat.getJsapiTicket(oa.authorizerToken).catch(errcodeOf);
    const wrongSlot = await wechat.getJsapiTicket(oa.componentToken).catch(errcodeOf);
    // Assess
    assert.equal(stale, 40001);
    assert.equal(wrongSlot, 40001);
  });

  it('answers 45009 while the quota switch is on for the account, and only for it', async () => {
    // Prepare
    const exhausted = await account('official');
    const other = await account('official');
    sim.setTicketQuotaExhausted(true, exhausted.appid);
    // Act
    const refused = await wechat.getJsapiTicket(exhausted.authorizerToken).catch(errcodeOf);
    const served = await wechat.getJsapiTicket(other.authorizerToken);
    sim.setTicketQuotaExhausted(false, exhausted.appid);
    const again = await wechat.getJsapiTicket(exhausted.authorizerToken);
    // Assess
    assert.equal(refused, 45009);
    assert.ok(served.ticket && again.ticket);
  });

  it('accepts a wx.config signed with a live ticket of that account over the URL without its fragment, and nothing else', async () => {
    // Prepare
    const oa = await account('official');
    const { ticket } = await wechat.getJsapiTicket(oa.authorizerToken);
    const sign = (t: string, url: string) =>
      createHash('sha1').update(`jsapi_ticket=${t}&noncestr=abc123&timestamp=1700000000&url=${url}`).digest('hex');
    const config = { appId: oa.appid, url: 'https://h5.example.test/p?x=1#/tab', timestamp: 1700000000, nonceStr: 'abc123' };
    // Act & Assess
    assert.equal(sim.acceptsJsConfig({ ...config, signature: sign(ticket, 'https://h5.example.test/p?x=1') }), true);
    assert.equal(sim.acceptsJsConfig({ ...config, signature: sign(ticket, 'https://h5.example.test/p?x=1#/tab') }), false);
    assert.equal(sim.acceptsJsConfig({ ...config, appId: COMPONENT, signature: sign(ticket, 'https://h5.example.test/p?x=1') }), false);
  });
});

describe('simulator jscode2session', () => {
  it('exchanges a wx.login code once for openid, session_key and unionid; the same user keeps the openid', async () => {
    // Prepare
    const mp = await account('miniprogram');
    const code = sim.mintJsCode({ authorizerAppid: mp.appid, user: 'alice' })!;
    const input = { componentAppId: COMPONENT, authorizerAppid: mp.appid, jsCode: code.code };
    // Act
    const session = await wechat.componentJscode2session(mp.componentToken, input);
    const reused = await wechat.componentJscode2session(mp.componentToken, input).catch(errcodeOf);
    const later = await wechat.componentJscode2session(mp.componentToken, {
      ...input,
      jsCode: sim.mintJsCode({ authorizerAppid: mp.appid, user: 'alice', unionid: false })!.code,
    });
    // Assess
    assert.equal(session.openid, code.openid);
    assert.equal(session.unionid, code.unionid);
    assert.ok(session.sessionKey.length >= 16);
    assert.equal(reused, 40163);
    assert.equal(later.openid, session.openid);
    assert.equal(later.unionid, undefined);
    assert.deepEqual([...(sim.callLog.at(-1)?.params ?? [])].sort(), ['appid', 'component_access_token', 'component_appid', 'grant_type', 'js_code']);
  });

  it('answers 40029 to a code of another mini program and to a code older than 5 minutes', async () => {
    // Prepare
    const mp = await account('miniprogram');
    const other = await account('miniprogram');
    const foreign = sim.mintJsCode({ authorizerAppid: other.appid })!.code;
    const old = sim.mintJsCode({ authorizerAppid: mp.appid })!.code;
    // The newest component token: issuing one caps the older ones at 5 more minutes.
    const exchange = (jsCode: string) =>
      wechat.componentJscode2session(other.componentToken, { componentAppId: COMPONENT, authorizerAppid: mp.appid, jsCode });
    // Act
    const foreignAnswer = await exchange(foreign).catch(errcodeOf);
    offsetMs += 301_000;
    const oldAnswer = await exchange(old).catch(errcodeOf);
    offsetMs -= 301_000;
    // Assess
    assert.equal(foreignAnswer, 40029);
    assert.equal(oldAnswer, 40029);
  });

  it('refuses the authorizer token in the access_token slot (48001) and any account secret (40125)', async () => {
    // Prepare
    const mp = await account('miniprogram');
    const base = {
      appid: mp.appid,
      js_code: sim.mintJsCode({ authorizerAppid: mp.appid })!.code,
      grant_type: 'authorization_code',
      component_appid: COMPONENT,
    };
    // Act
    const wrongSlot = await rawGet('/sns/component/jscode2session', { ...base, access_token: mp.authorizerToken });
    const withSecret = await rawGet('/sns/component/jscode2session', { ...base, component_access_token: mp.componentToken, secret: 'mp-secret' });
    const post = await fetch(`${sim.url}/sns/component/jscode2session`, { method: 'POST', body: '{}' }).then(
      (r) => r.json() as Promise<{ errcode: number }>,
    );
    // Assess
    assert.equal(wrongSlot.errcode, 48001);
    assert.equal(withSecret.errcode, 40125);
    assert.equal(post.errcode, 43001);
  });

  it('mints codes over the HTTP controls, and 404s for an account that is no mini program', async () => {
    // Prepare
    const mp = await account('miniprogram');
    const oa = await account('official');
    const control = (path: string, body: unknown) =>
      fetch(`${sim.url}/__sim/${path}`, { method: 'POST', body: JSON.stringify(body) }).then(async (r) => ({
        status: r.status,
        json: await r.json(),
      }));
    // Act
    const minted = await control('js-code', { authorizerAppid: mp.appid, user: 'bob' });
    const wrongKind = await control('js-code', { authorizerAppid: oa.appid });
    const oauth = await control('oauth-code', { authorizerAppid: oa.appid, scope: 'snsapi_userinfo' });
    // Assess
    assert.equal(minted.status, 200);
    assert.equal((minted.json as { openid: string }).openid, sim.mintJsCode({ authorizerAppid: mp.appid, user: 'bob' })!.openid);
    assert.equal(wrongKind.status, 404);
    assert.equal(oauth.status, 200);
    assert.ok((oauth.json as { unionid?: string }).unionid);
  });
});

describe('simulator component web OAuth', () => {
  it('exchanges a code, refreshes with the component token, and serves userinfo to the user token', async () => {
    // Prepare
    const oa = await account('official');
    const code = sim.mintOAuthCode({ authorizerAppid: oa.appid, scope: 'snsapi_userinfo', user: 'carol' })!;
    const who = { componentAppId: COMPONENT, authorizerAppid: oa.appid };
    // Act
    const token = await wechat.componentOAuthAccessToken(oa.componentToken, { ...who, code: code.code });
    const again = await wechat.componentOAuthAccessToken(oa.componentToken, { ...who, code: code.code }).catch(errcodeOf);
    const refreshed = await wechat.componentOAuthRefreshToken(oa.componentToken, { ...who, refreshToken: token.refreshToken });
    const info = await wechat.snsUserinfo(refreshed.accessToken, { openid: token.openid });
    // Assess
    assert.equal(token.openid, code.openid);
    assert.equal(token.scope, 'snsapi_userinfo');
    assert.equal(token.unionid, code.unionid);
    assert.equal(again, 40163);
    assert.notEqual(refreshed.accessToken, token.accessToken);
    assert.equal(refreshed.refreshToken, token.refreshToken);
    assert.equal(info.openid, token.openid);
    assert.equal(info.unionid, code.unionid);
  });

  it('gives snsapi_base no unionid and no userinfo (48001), and refuses a refresh token of another account (40030)', async () => {
    // Prepare
    const oa = await account('official');
    const other = await account('official');
    const code = sim.mintOAuthCode({ authorizerAppid: oa.appid, scope: 'snsapi_base' })!;
    // Act
    const token = await wechat.componentOAuthAccessToken(oa.componentToken, {
      componentAppId: COMPONENT,
      authorizerAppid: oa.appid,
      code: code.code,
    });
    const info = await wechat.snsUserinfo(token.accessToken, { openid: token.openid }).catch(errcodeOf);
    const foreign = await wechat
      .componentOAuthRefreshToken(oa.componentToken, { componentAppId: COMPONENT, authorizerAppid: other.appid, refreshToken: token.refreshToken })
      .catch(errcodeOf);
    // Assess
    assert.equal(token.unionid, undefined);
    assert.equal(code.unionid, undefined);
    assert.equal(info, 48001);
    assert.equal(foreign, 40030);
  });

  it('answers 40001 to the component token where the user token belongs, and 42002 to a refresh token past 30 days', async () => {
    // Prepare
    const oa = await account('official');
    const code = sim.mintOAuthCode({ authorizerAppid: oa.appid, scope: 'snsapi_userinfo' })!;
    const token = await wechat.componentOAuthAccessToken(oa.componentToken, {
      componentAppId: COMPONENT,
      authorizerAppid: oa.appid,
      code: code.code,
    });
    // Act
    const wrongToken = await wechat.snsUserinfo(oa.componentToken, { openid: token.openid }).catch(errcodeOf);
    offsetMs += 31 * 24 * 3600 * 1000;
    const freshComponentToken = await componentToken();
    const expired = await wechat
      .componentOAuthRefreshToken(freshComponentToken, { componentAppId: COMPONENT, authorizerAppid: oa.appid, refreshToken: token.refreshToken })
      .catch(errcodeOf);
    offsetMs -= 31 * 24 * 3600 * 1000;
    // Assess
    assert.equal(wrongToken, 40001);
    assert.equal(expired, 42002);
  });
});
