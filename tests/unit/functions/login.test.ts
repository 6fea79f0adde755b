import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoginRequestError, parseLoginRequest } from '../../../functions/login/request.ts';

const appid = 'wx0123456789abcdef';

describe('login.parseLoginRequest', () => {
  it('reads the four requests', () => {
    assert.deepEqual(parseLoginRequest({ authorizerAppid: appid, jsCode: '0a1B2c' }), { kind: 'jsCode', authorizerAppid: appid, jsCode: '0a1B2c' });
    assert.deepEqual(parseLoginRequest({ authorizerAppid: appid, oauthCode: '071x' }), {
      kind: 'oauthCode',
      authorizerAppid: appid,
      oauthCode: '071x',
    });
    assert.deepEqual(parseLoginRequest({ authorizerAppid: appid, oauthRefreshToken: 'r-1' }), {
      kind: 'oauthRefreshToken',
      authorizerAppid: appid,
      oauthRefreshToken: 'r-1',
    });
    assert.deepEqual(parseLoginRequest({ authorizerAppid: appid, userinfo: { accessToken: 't-1', openid: 'o-1' } }), {
      kind: 'userinfo',
      authorizerAppid: appid,
      accessToken: 't-1',
      openid: 'o-1',
    });
  });

  it('rejects every other shape naming the problem, and never echoes a code', () => {
    const cases: [unknown, RegExp][] = [
      [undefined, /JSON object/],
      ['0a1B2c', /JSON object/],
      [{ jsCode: 'x' }, /"authorizerAppid"/],
      [{ authorizerAppid: 'gh_0123456789ab', jsCode: 'x' }, /"authorizerAppid"/],
      [{ authorizerAppid: appid }, /exactly one request/],
      [{ authorizerAppid: appid, jsCode: 'a', oauthCode: 'b' }, /exactly one request/],
      [{ authorizerAppid: appid, jsCode: 'secret code with spaces' }, /"jsCode" must be a non-empty string/],
      [{ authorizerAppid: appid, jsCode: 42 }, /"jsCode"/],
      [{ authorizerAppid: appid, oauthCode: 'a'.repeat(513) }, /"oauthCode"/],
      [{ authorizerAppid: appid, userinfo: { accessToken: 't' } }, /"userinfo.openid"/],
      [{ authorizerAppid: appid, userinfo: { accessToken: 't', openid: 'o', lang: 'en' } }, /"userinfo" must be/],
      [{ authorizerAppid: appid, jsCode: 'a', appsecret: 'x' }, /unknown field\(s\): appsecret/],
    ];
    for (const [payload, message] of cases) {
      assert.throws(
        () => parseLoginRequest(payload),
        (e: unknown) => e instanceof LoginRequestError && e.type === 'bad_request' && message.test(e.message) && !e.message.includes('secret code'),
        JSON.stringify(payload),
      );
    }
  });
});
