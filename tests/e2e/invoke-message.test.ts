import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SIMULATOR_COMPONENT } from '../../infra/local/credentials.ts';
import { invokeLocal, localInvokeEnv } from '../helpers/sls.ts';
import { openReply } from '../helpers/wechat-message.ts';

describe('sls invoke local -f message', () => {
  it('answers the recorded release-check text with the encrypted TESTCOMPONENT_MSG_TYPE_TEXT_callback reply', async () => {
    // Act: a release-test account needs no stored profile, so the table is never reached.
    const { code, output } = await invokeLocal(
      'message',
      ['--path', 'tests/events/message.json'],
      localInvokeEnv({ DYNAMODB_ENDPOINT: 'http://127.0.0.1:1' }),
    );
    // Assess
    assert.equal(code, 0, output);
    const result = JSON.parse(output.slice(output.lastIndexOf('\n{') + 1)) as { statusCode: number; body: string };
    assert.equal(result.statusCode, 200);
    const reply = openReply(SIMULATOR_COMPONENT, result.body);
    assert.equal(reply.msgType === 'text' && reply.content, 'TESTCOMPONENT_MSG_TYPE_TEXT_callback');
    assert.equal(reply.toUserName, 'ozy4qt1eDxSxzCr0aNT0mXCWfrDE');
    assert.equal(reply.fromUserName, 'gh_3c884a361561');
  });
});
