import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../../../lib/kernel/errors.ts';
import {
  isRefreshTokenInvalid,
  isRevoked,
  isTicketInvalid,
  isTokenInvalid,
  WeChatApiError,
  WeChatNetworkError,
  WeChatProtocolError,
} from '../../../lib/wechat/errors.ts';

const apiError = (errcode: number) => new WeChatApiError('component/api_authorizer_token', errcode, 'some message rid: 64f0-1');

const classifiers = {
  isTokenInvalid: { fn: isTokenInvalid, codes: [40001, 40014, 42001] },
  isTicketInvalid: { fn: isTicketInvalid, codes: [61005, 61006] },
  isRefreshTokenInvalid: { fn: isRefreshTokenInvalid, codes: [61023] },
  isRevoked: { fn: isRevoked, codes: [61003] },
};
const allCodes = [...new Set([...Object.values(classifiers).flatMap((c) => c.codes), 0, -1, 40013, 40164, 45009, 45011, 47001, 48001, 61004, 61009])];

describe('WeChatApiError', () => {
  it('carries api, errcode and the verbatim errmsg, rid included', () => {
    // Act
    const error = new WeChatApiError('component/api_query_auth', 61010, 'code is expired rid: 6523a1b2-0c4d');
    // Assess
    assert.ok(error instanceof AppError);
    assert.equal(error.name, 'WeChatApiError');
    assert.equal(error.api, 'component/api_query_auth');
    assert.equal(error.errcode, 61010);
    assert.equal(error.errmsg, 'code is expired rid: 6523a1b2-0c4d');
    assert.match(error.message, /component\/api_query_auth.*61010.*rid: 6523a1b2-0c4d/);
  });
});

describe('WeChatNetworkError and WeChatProtocolError', () => {
  it('name the api and keep the cause, the attempts and the HTTP status', () => {
    // Prepare
    const cause = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    // Act
    const network = new WeChatNetworkError('component/api_component_token', 3, { cause, timedOut: false });
    const protocol = new WeChatProtocolError('component/api_query_auth', 'HTTP 502', 502);
    // Assess
    assert.equal(network.name, 'WeChatNetworkError');
    assert.equal(network.api, 'component/api_component_token');
    assert.equal(network.attempts, 3);
    assert.equal(network.timedOut, false);
    assert.equal(network.cause, cause);
    assert.equal(protocol.name, 'WeChatProtocolError');
    assert.equal(protocol.statusCode, 502);
    assert.equal(protocol.reason, 'HTTP 502');
  });
});

for (const [name, { fn, codes }] of Object.entries(classifiers)) {
  describe(name, () => {
    it(`is true exactly for errcode ${codes.join(', ')}`, () => {
      // Act
      const matched = allCodes.filter((code) => fn(apiError(code)));
      // Assess
      assert.deepEqual(matched.sort(), [...codes].sort());
    });

    it('is false for anything that is not a WeChatApiError, even with the same errcode field', () => {
      // Prepare
      const lookalike = Object.assign(new Error('x'), { errcode: codes[0] });
      const network = new WeChatNetworkError('component/api_component_token', 1, { timedOut: true });
      // Act & Assess
      for (const value of [lookalike, network, { errcode: codes[0] }, undefined, null, codes[0]]) assert.equal(fn(value), false);
    });
  });
}
