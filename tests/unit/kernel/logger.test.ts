import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryLogger, protectSecret } from '../../../lib/kernel/logger.ts';

describe('logger', () => {
  it('writes one JSON line per event with the ids as fields', () => {
    // Prepare
    const logger = createMemoryLogger('info');
    // Act
    logger.child({ componentAppId: 'wx1234567890abcdef' }).info('verify_ticket.saved', { createTime: 1501996049 });
    logger.debug('not.written');
    // Assess
    assert.equal(logger.lines.length, 1);
    const record = logger.records()[0]!;
    assert.equal(record.event, 'verify_ticket.saved');
    assert.equal(record.level, 'info');
    assert.equal(record.componentAppId, 'wx1234567890abcdef');
    assert.equal(record.createTime, 1501996049);
  });

  it('redacts fields named like secrets, keeping errcode', () => {
    // Prepare
    const logger = createMemoryLogger();
    // Act
    logger.info('x', { accessToken: 'abc123456', refresh_token: 'r', authCode: 'c', appSecret: 's', ticket: 't', errcode: 40001 });
    // Assess
    assert.deepEqual(logger.records()[0], {
      ...logger.records()[0],
      accessToken: '[redacted]',
      refresh_token: '[redacted]',
      authCode: '[redacted]',
      appSecret: '[redacted]',
      ticket: '[redacted]',
      errcode: 40001,
    });
  });

  it('masks WeChat credential shapes and protected values anywhere in the line, error messages included', () => {
    // Prepare
    const logger = createMemoryLogger();
    protectSecret('TOKEN-VALUE-0123456789');
    // Act
    logger.error('y', { note: 'got queryauthcode@@@SozCwT_ve8WQ and ticket@@@-iN0rfTq' }, new Error('bad TOKEN-VALUE-0123456789 here'));
    // Assess
    const line = logger.lines[0]!;
    assert.doesNotMatch(line, /SozCwT|iN0rfTq|TOKEN-VALUE-0123456789/);
    assert.match(line, /queryauthcode@@@\[redacted\]/);
    assert.match(line, /bad \[redacted\] here/);
  });

  it('masks a protected value inside a URL query and one with unusual characters, leaving look-alikes alone', () => {
    // Prepare
    const logger = createMemoryLogger();
    protectSecret('AccessTok_0123456789-abc');
    protectSecret('odd secret with spaces!');
    // Act
    logger.info('z', {
      url: '/cgi-bin/x?component_access_token=AccessTok_0123456789-abc&y=1',
      note: 'was odd secret with spaces! here',
      other: 'AccessTok_0123456789-abcd',
    });
    // Assess
    const record = logger.records()[0]!;
    assert.equal(record.url, '/cgi-bin/x?component_access_token=[redacted]&y=1');
    assert.equal(record.note, 'was [redacted] here');
    assert.equal(record.other, 'AccessTok_0123456789-abcd');
  });
});
