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

describe('logger: protected values glued to other text', () => {
  it('masks a protected value glued to /, . or - on either side, however it is cut, in every line (plain substring scan)', () => {
    // Prepare: secrets with and without separators of their own.
    const secrets = ['78_GluedAccessTokenValue0123', 'dash-in-the-middle_9876543210', 'base64/with+slash.and.dots==', 'plainsecretvalue42'];
    for (const s of secrets) protectSecret(s);
    const logger = createMemoryLogger();
    // Act
    for (const s of secrets) {
      logger.info('glued', {
        path: `/cgi-bin/${s}`,
        file: `${s}.json`,
        dash: `key-${s}-suffix`,
        dot: `a.${s}.b`,
        both: `https://api.weixin.qq.com/cgi-bin/${s}/x?access_token=${s}&y=${s}.z`,
        twice: `${s}/${s}`,
      });
      logger.error('failed', {}, new Error(`POST /wxa/${s}-/ failed`));
    }
    // Assess: not one line contains any secret, by plain substring.
    assert.equal(logger.lines.length, secrets.length * 2);
    for (const line of logger.lines) for (const s of secrets) assert.ok(!line.includes(s), `${s} in ${line}`);
    assert.equal(logger.records()[0]?.path, '/cgi-bin/[redacted]');
    assert.equal(logger.records()[0]?.dash, 'key-[redacted]-suffix');
  });

  it('leaves look-alikes and ordinary paths alone', () => {
    // Prepare
    protectSecret('LookAlikeSecret01');
    const logger = createMemoryLogger();
    // Act
    logger.info('near', { a: '/cgi-bin/LookAlikeSecret012', b: 'xLookAlikeSecret01', c: '/cgi-bin/component/api_component_token' });
    // Assess
    assert.deepEqual(logger.records()[0], {
      ...logger.records()[0],
      a: '/cgi-bin/LookAlikeSecret012',
      b: 'xLookAlikeSecret01',
      c: '/cgi-bin/component/api_component_token',
    });
  });
});
