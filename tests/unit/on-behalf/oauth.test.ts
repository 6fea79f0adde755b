import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OnBehalfRequestError } from '../../../lib/on-behalf/errors.ts';
import { buildOAuthUrl, parseOAuthUrlInput } from '../../../lib/on-behalf/oauth.ts';

const appid = 'wx0123456789abcdef';
const component = 'wx5ce1ab0c0ffee000';

describe('oauth.buildOAuthUrl', () => {
  it('encodes redirect_uri once, omits an absent state, and ends with #wechat_redirect', () => {
    // Act
    const url = buildOAuthUrl(component, { authorizerAppid: appid, redirectUri: 'https://h5.example.com/cb?a=1&b=中', scope: 'snsapi_base' });
    // Assess
    assert.equal(
      url,
      `https://open.weixin.qq.com/connect/oauth2/authorize?appid=${appid}&redirect_uri=https%3A%2F%2Fh5.example.com%2Fcb%3Fa%3D1%26b%3D%E4%B8%AD` +
        `&response_type=code&scope=snsapi_base&component_appid=${component}&connect_redirect=1#wechat_redirect`,
    );
    const parsed = new URL(url);
    assert.equal(parsed.searchParams.get('redirect_uri'), 'https://h5.example.com/cb?a=1&b=中');
    assert.equal(parsed.searchParams.get('state'), null);
    assert.equal(parsed.hash, '#wechat_redirect');
  });
});

describe('oauth.parseOAuthUrlInput', () => {
  it('accepts both scopes and an alphanumeric state', () => {
    const input = { authorizerAppid: appid, redirectUri: 'https://h5.example.com/cb', scope: 'snsapi_userinfo', state: 'Ab9' };
    assert.deepEqual(parseOAuthUrlInput(input), input);
    assert.equal(parseOAuthUrlInput({ ...input, scope: 'snsapi_base', state: undefined }).scope, 'snsapi_base');
  });

  it('refuses what WeChat would refuse or mangle, naming the problem', () => {
    const ok = { authorizerAppid: appid, redirectUri: 'https://h5.example.com/cb', scope: 'snsapi_base' };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...ok, authorizerAppid: 'gh_abc' }, /"authorizerAppid"/],
      [{ ...ok, scope: 'snsapi_login' }, /"scope"/],
      [{ ...ok, scope: undefined }, /"scope"/],
      [{ ...ok, redirectUri: '/cb' }, /absolute URL/],
      [{ ...ok, redirectUri: 'https://h5.example.com:8443/cb' }, /port/],
      [{ ...ok, redirectUri: 'https://h5.example.com/#/cb' }, /fragment/],
      [{ ...ok, redirectUri: 'javascript:alert(1)' }, /http or https/],
      [{ ...ok, state: 'a-b' }, /"state"/],
      [{ ...ok, state: 'x'.repeat(129) }, /"state"/],
      [{ ...ok, component_appid: component }, /unknown field\(s\): component_appid/],
    ];
    for (const [input, message] of cases) {
      assert.throws(
        () => parseOAuthUrlInput(input),
        (e: unknown) => e instanceof OnBehalfRequestError && message.test(e.message),
        JSON.stringify(input),
      );
    }
  });
});
