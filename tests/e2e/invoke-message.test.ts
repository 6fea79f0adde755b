import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { simulatorEnv, SIMULATOR_COMPONENT } from '../../infra/local/credentials.ts';
import { startProc, type Proc } from '../helpers/proc.ts';
import { openReply } from '../helpers/wechat-message.ts';

const TIMEOUT_MS = 45_000;

describe('sls invoke local -f message', () => {
  let proc: Proc | undefined;
  after(async () => {
    await proc?.stop(2000);
  });

  it('answers the recorded release-check text with the encrypted TESTCOMPONENT_MSG_TYPE_TEXT_callback reply', async () => {
    // Prepare: a release-test account needs no stored profile, so the table is never reached.
    const env: NodeJS.ProcessEnv = { ...process.env, ...simulatorEnv(), DYNAMODB_ENDPOINT: 'http://127.0.0.1:1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_REGION: 'ap-east-1' };
    // The sample's timestamp is fixed: the IS_LOCAL default (freshness check off) is what lets it replay.
    delete env.PUSH_MAX_SKEW_S;
    // Act
    proc = startProc(process.execPath, ['node_modules/serverless/bin/serverless.js', 'invoke', 'local', '-f', 'message', '--path', 'tests/events/message.json'], env);
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sls invoke local did not finish in ${TIMEOUT_MS} ms:\n${proc!.output.join('\n')}`)), TIMEOUT_MS);
      proc!.child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    // Assess
    const output = proc.output.join('\n');
    assert.equal(code, 0, output);
    const result = JSON.parse(output.slice(output.lastIndexOf('\n{') + 1)) as { statusCode: number; body: string };
    assert.equal(result.statusCode, 200);
    const reply = openReply(SIMULATOR_COMPONENT, result.body);
    assert.equal(reply.msgType === 'text' && reply.content, 'TESTCOMPONENT_MSG_TYPE_TEXT_callback');
    assert.equal(reply.toUserName, 'ozy4qt1eDxSxzCr0aNT0mXCWfrDE');
    assert.equal(reply.fromUserName, 'gh_3c884a361561');
  });
});
