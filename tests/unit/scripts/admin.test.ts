import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAdminArgs, parseValue } from '../../../scripts/admin.ts';

describe('scripts/admin parseAdminArgs', () => {
  it('puts the action and every --key value into the payload, locally by default', () => {
    const command = parseAdminArgs(['authorizationLink', '--tenant', 'acme', '--ttlSeconds', '600'], {});
    assert.deepEqual(command, { stage: 'dev', region: undefined, payload: { tenant: 'acme', ttlSeconds: 600, action: 'authorizationLink' } });
  });

  it('takes --stage and --region as the target, not as payload', () => {
    const command = parseAdminArgs(['quota', '--cgiPath', '/cgi-bin/message/custom/send', '--stage', 'prod', '--region', 'ap-east-1'], {});
    assert.deepEqual(command, { stage: 'prod', region: 'ap-east-1', payload: { cgiPath: '/cgi-bin/message/custom/send', action: 'quota' } });
  });

  it('reads a flag without a value as true', () => {
    assert.deepEqual(parseAdminArgs(['rollout', '--submitAudit', '--release', 'auto'], {}).payload, {
      submitAudit: true,
      release: 'auto',
      action: 'rollout',
    });
  });

  it('refuses a missing action and a stray positional argument', () => {
    assert.throws(() => parseAdminArgs([], {}), /usage/);
    assert.throws(() => parseAdminArgs(['--tenant', 'acme'], {}), /usage/);
    assert.throws(() => parseAdminArgs(['authorizationLink', 'acme'], {}), /expected --key/);
    assert.throws(() => parseAdminArgs(['authorizationLink', '--stage'], {}), /--stage needs a value/);
  });
});

describe('scripts/admin parseValue', () => {
  it('parses what reads as JSON and keeps everything else a string', () => {
    assert.equal(parseValue('600'), 600);
    assert.equal(parseValue('-1'), -1);
    assert.equal(parseValue('true'), true);
    assert.equal(parseValue('null'), null);
    assert.deepEqual(parseValue('["wx0123456789abcdef"]'), ['wx0123456789abcdef']);
    assert.deepEqual(parseValue('{"a":1}'), { a: 1 });
    assert.equal(parseValue('"007"'), '007');
    assert.equal(parseValue('007'), '007');
    assert.equal(parseValue('acme'), 'acme');
    assert.equal(parseValue('gray:10'), 'gray:10');
    assert.equal(parseValue('[not json'), '[not json');
    assert.equal(parseValue('wx0123456789abcdef'), 'wx0123456789abcdef');
  });
});
