import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTokenRequest, TokenRequestError, toOperatorRow } from '../../../functions/token/request.ts';

describe('token.parseTokenRequest', () => {
  it('reads {} and an absent payload as a request for the component token', () => {
    assert.deepEqual(parseTokenRequest({}), { kind: 'component' });
    assert.deepEqual(parseTokenRequest(undefined), { kind: 'component' });
  });

  it('reads an authorizer appid and the listing with its cursor', () => {
    assert.deepEqual(parseTokenRequest({ authorizerAppid: 'wx0123456789ABCDEF' }), { kind: 'authorizer', authorizerAppid: 'wx0123456789ABCDEF' });
    assert.deepEqual(parseTokenRequest({ list: true }), { kind: 'list' });
    assert.deepEqual(parseTokenRequest({ list: true, cursor: 'abc' }), { kind: 'list', cursor: 'abc' });
  });

  it('rejects every other shape with a message naming the problem, never falling back to the component token', () => {
    const cases: [unknown, RegExp][] = [
      ['{}', /JSON object/],
      [[], /JSON object/],
      [{ authorizerAppid: 'wx123' }, /wx followed by 16 hex digits/],
      [{ authorizerAppid: null }, /wx followed by 16 hex digits/],
      [{ authorizerAppId: 'wx0123456789abcdef' }, /unknown field\(s\): authorizerAppId/],
      [{ list: 1 }, /"list" must be true/],
      [{ list: true, authorizerAppid: 'wx0123456789abcdef' }, /stand alone/],
      [{ list: true, cursor: '' }, /"cursor"/],
      [{ cursor: 'abc' }, /only valid with "list"/],
    ];
    for (const [payload, message] of cases) {
      assert.throws(
        () => parseTokenRequest(payload),
        (e: unknown) => e instanceof TokenRequestError && e.type === 'bad_request' && message.test(e.message),
      );
    }
  });
});

describe('token.parseTokenRequest (JS-SDK)', () => {
  const appid = 'wx0123456789abcdef';

  it('reads the ticket request and the signature request, the URL without its fragment', () => {
    assert.deepEqual(parseTokenRequest({ authorizerAppid: appid, ticket: 'jsapi' }), { kind: 'jsapiTicket', authorizerAppid: appid });
    assert.deepEqual(parseTokenRequest({ authorizerAppid: appid, jsapiSignature: { url: 'https://h5.example.com/p?x=1#/tab' } }), {
      kind: 'jsapiSignature',
      authorizerAppid: appid,
      url: 'https://h5.example.com/p?x=1',
    });
  });

  it('rejects malformed JS-SDK requests as bad requests, never answering with a token instead', () => {
    const cases: [unknown, RegExp][] = [
      [{ ticket: 'jsapi' }, /"authorizerAppid" must be an appid/],
      [{ authorizerAppid: appid, ticket: 'wx_card' }, /"ticket" must be "jsapi"/],
      [{ authorizerAppid: appid, ticket: 'jsapi', jsapiSignature: { url: 'https://a.test/' } }, /separate requests/],
      [{ authorizerAppid: appid, jsapiSignature: 'https://a.test/' }, /must be \{"url"/],
      [{ authorizerAppid: appid, jsapiSignature: { url: 'https://a.test/', nonce: 'x' } }, /must be \{"url"/],
      [{ authorizerAppid: appid, jsapiSignature: { url: '/relative' } }, /absolute URL/],
      [{ list: true, ticket: 'jsapi' }, /stand alone/],
    ];
    for (const [payload, message] of cases) {
      assert.throws(
        () => parseTokenRequest(payload),
        (e: unknown) => e instanceof TokenRequestError && e.type === 'bad_request' && message.test(e.message),
        JSON.stringify(payload),
      );
    }
  });
});

describe('token.toOperatorRow', () => {
  it('shows absent names and expiry as null so the operator view has one shape', () => {
    assert.deepEqual(toOperatorRow({ authorizerAppid: 'wx0123456789abcdef', status: 'needs_reauth', funcInfo: [1], authorizedAt: 1 }), {
      authorizerAppid: 'wx0123456789abcdef',
      status: 'needs_reauth',
      nickName: null,
      userName: null,
      tokenExpiresAt: null,
      funcInfo: [1],
    });
  });
});
