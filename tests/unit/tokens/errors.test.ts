import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { failureOf, MissingTicketError, NeedsReauthError, reviveFailure, TokenRefreshFailedError } from '../../../lib/tokens/errors.ts';
import { WeChatApiError } from '../../../lib/wechat/errors.ts';

describe('tokenErrors.failureOf and reviveFailure', () => {
  it("gives a waiting caller the holder's WeChat error with api and errcode intact", () => {
    // Prepare
    const failure = failureOf(new WeChatApiError('component/api_authorizer_token', 45009, 'reach max api daily quota limit rid: 1'), 1000);
    // Act
    const revived = reviveFailure('authorizer-token#wx', JSON.parse(JSON.stringify(failure)));
    // Assess
    assert.ok(revived instanceof WeChatApiError);
    assert.equal(revived.errcode, 45009);
    assert.equal(revived.api, 'component/api_authorizer_token');
  });

  it('revives typed token errors by their stable type, whatever a minifier named the class', () => {
    // Prepare
    const error = new NeedsReauthError('wx1 needs re-authorization');
    Object.defineProperty(error, 'name', { value: 'xQ' });
    // Act
    const revived = reviveFailure('authorizer-token#wx1', failureOf(error, 1));
    // Assess
    assert.ok(revived instanceof NeedsReauthError);
    assert.equal(revived.message, 'wx1 needs re-authorization');
    assert.ok(reviveFailure('component-token#wx', failureOf(new MissingTicketError('no ticket'), 1)) instanceof MissingTicketError);
  });

  it('wraps any other failure in TokenRefreshFailedError naming the lease', () => {
    // Act
    const revived = reviveFailure('component-token#wx', failureOf(new Error('socket hang up'), 1));
    // Assess
    assert.ok(revived instanceof TokenRefreshFailedError);
    assert.match(revived.message, /component-token#wx.*socket hang up/);
  });
});
