import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isReleaseTestAccount, RELEASE_TEST_ACCOUNTS, releaseTestAction } from '../../../lib/release-test/replies.ts';
import { parseAccountMessage } from '../../../lib/wechat/account-messages.ts';

const head = '<xml><ToUserName>gh_3c884a361561</ToUserName><FromUserName>oUser</FromUserName><CreateTime>1700000000</CreateTime>';
const text = (content: string) =>
  parseAccountMessage(`${head}<MsgType>text</MsgType><Content><![CDATA[${content}]]></Content><MsgId>1</MsgId></xml>`);
const event = (name: string) => parseAccountMessage(`${head}<MsgType>event</MsgType><Event>${name}</Event></xml>`);
const TEST = 'wx570bc396a51b8ff8';

describe('releaseTest.RELEASE_TEST_ACCOUNTS', () => {
  it('lists the ten test accounts of docs/protocol.md §2 with their gh_ ids', () => {
    assert.equal(RELEASE_TEST_ACCOUNTS.size, 10);
    assert.equal(RELEASE_TEST_ACCOUNTS.get('wx5910277cae6fd970'), 'gh_7818dcb60240');
    assert.ok([...RELEASE_TEST_ACCOUNTS].every(([appid, gh]) => /^wx[0-9a-f]{16}$/.test(appid) && /^gh_[0-9a-f]{12}$/.test(gh)));
    assert.equal(isReleaseTestAccount('wx1111222233334444'), false);
  });
});

describe('releaseTest.releaseTestAction', () => {
  it('asks for the _callback reply to the test text and <Event>from_callback to any event', () => {
    assert.deepEqual(releaseTestAction(TEST, text('TESTCOMPONENT_MSG_TYPE_TEXT')), {
      case: 'text',
      reply: { msgType: 'text', content: 'TESTCOMPONENT_MSG_TYPE_TEXT_callback' },
    });
    assert.deepEqual(releaseTestAction(TEST, event('LOCATION')), { case: 'event', reply: { msgType: 'text', content: 'LOCATIONfrom_callback' } });
  });

  it('extracts the query_auth_code of the API text, trimmed', () => {
    assert.deepEqual(releaseTestAction(TEST, text('QUERY_AUTH_CODE:queryauthcode@@@abc-123 ')), {
      case: 'api_text',
      queryAuthCode: 'queryauthcode@@@abc-123',
    });
  });

  it('leaves other messages, an empty code and every other account to the normal path', () => {
    assert.equal(releaseTestAction(TEST, text('hello')), undefined);
    assert.equal(releaseTestAction(TEST, text('QUERY_AUTH_CODE:')), undefined);
    assert.equal(releaseTestAction(TEST, text('testcomponent_msg_type_text')), undefined);
    assert.equal(releaseTestAction('wx1111222233334444', text('TESTCOMPONENT_MSG_TYPE_TEXT')), undefined);
    assert.equal(releaseTestAction('wx1111222233334444', event('LOCATION')), undefined);
  });
});
