import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BadRequestError, ExpectedError } from '../../../lib/kernel/errors.ts';
import { createMemoryLogger } from '../../../lib/kernel/logger.ts';
import { invokeFailureOf } from '../../../lib/runtime/invoke.ts';
import { TokenBusyError } from '../../../lib/tokens/errors.ts';
import { invokeFunction } from '../../helpers/lambda.ts';

class QuotaSpentError extends ExpectedError {
  readonly type = 'quota_spent';
}

describe('invoke edge', () => {
  it('answers an expected failure with its stable type and message, and logs it as a warning', async () => {
    // Prepare
    const logger = createMemoryLogger();
    const fn = invokeFunction(async () => {
      throw new QuotaSpentError('the monthly quota is spent');
    }, logger);
    // Act
    const answer = await fn({});
    // Assess
    assert.deepEqual(answer, { error: { type: 'quota_spent', message: 'the monthly quota is spent' } });
    assert.deepEqual(
      logger.records().map((r) => [r.level, r.event, r.type]),
      [['warn', 'invoke.failed', 'quota_spent']],
    );
  });

  it('answers a bad request as bad_request and a token service failure by its type', () => {
    assert.deepEqual(invokeFailureOf(new BadRequestError('"list" must be true')), { error: { type: 'bad_request', message: '"list" must be true' } });
    assert.equal(invokeFailureOf(new TokenBusyError('busy'))?.error.type, 'busy');
  });

  it('rethrows anything else, so Lambda reports a function error', async () => {
    // Prepare
    const logger = createMemoryLogger();
    const fn = invokeFunction(async () => {
      throw new TypeError('a bug');
    }, logger);
    // Act / Assess
    await assert.rejects(fn({}), TypeError);
    assert.equal(invokeFailureOf(new Error('DynamoDB is down')), undefined);
  });
});
