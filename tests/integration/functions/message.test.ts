import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createHandler } from '../../../functions/message/handler.ts';
import { SIMULATOR_COMPONENT } from '../../../infra/local/credentials.ts';
import type { Deps } from '../../../lib/runtime/deps.ts';
import type { HttpEvent, HttpResult } from '../../../lib/runtime/http.ts';
import { createMemoryLogger } from '../../../lib/kernel/logger.ts';
import { createMessageHandlerRegistry, type MessageHandlerRegistry } from '../../../lib/intake/message-handlers.ts';
import { RELEASE_TEST_ACCOUNTS } from '../../../lib/release-test/replies.ts';
import { saveAuthorization } from '../../../lib/store/grants.ts';
import { markUnauthorized } from '../../../lib/store/authorizers.ts';
import type { AccountMessage } from '../../../lib/wechat/account-messages.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { eventXml, messageEvent, openReply, textXml } from '../../helpers/wechat-message.ts';
import { httpFunction } from '../../helpers/lambda.ts';
import { worldDeps } from '../../helpers/world.ts';

const COMPONENT = SIMULATOR_COMPONENT;
const NOW = Date.now();
const NOW_S = Math.floor(NOW / 1000);
const OURS = 'wx1111222233334444';
const GONE = 'wx5555666677778888';
const OPENID = 'o6_bmjrPTlm6_2sgVt7hMZOPfL2M';
let table: TestTable;
let logger: ReturnType<typeof createMemoryLogger>;
let deps: Deps;
let seen: { appid: string; message: AccountMessage }[];
let registry: MessageHandlerRegistry;
let msgSeq = 1_000_000_000_000_000_000n;

const nextMsgId = () => String((msgSeq += 1n));
const invoke = (event: HttpEvent, reg = registry): Promise<HttpResult> => httpFunction(createHandler(deps, reg), logger)(event);
const deliver = (appid: string, innerXml: string, toUser = 'gh_3c884a361561') =>
  invoke(messageEvent(COMPONENT, { authorizerAppid: appid, toUser, openid: OPENID, innerXml, timestamp: NOW_S }));
const text = (toUser: string, content: string, msgId = nextMsgId()) => textXml({ toUser, fromUser: OPENID, createTime: NOW_S, content, msgId });
const items = async (prefix: string) =>
  ((await table.doc.send(new ScanCommand({ TableName: table.tableName }))).Items ?? []).filter((i) => String(i.pk).startsWith(prefix));

before(async () => {
  table = await createTestTable();
  logger = createMemoryLogger();
  deps = worldDeps(table, { clock: () => NOW, logger });
  const profile = { refreshToken: 'refreshtoken@@@ours', funcInfo: [1], authorizedAt: NOW_S - 100 };
  await saveAuthorization(deps, OURS, profile);
  await saveAuthorization(deps, GONE, profile);
  await markUnauthorized(deps, GONE, NOW_S - 50);
});
after(async () => table.close());
beforeEach(() => {
  logger.lines.length = 0;
  seen = [];
  registry = createMessageHandlerRegistry(async (message, { authorizerAppid }) => {
    seen.push({ appid: authorizerAppid, message });
  });
});

describe('message function: release checks', () => {
  it('answers TESTCOMPONENT_MSG_TYPE_TEXT with the encrypted _callback text for each of the ten test accounts', async () => {
    for (const [appid, ghId] of RELEASE_TEST_ACCOUNTS) {
      // Act
      const response = await deliver(appid, text(ghId, 'TESTCOMPONENT_MSG_TYPE_TEXT'), ghId);
      // Assess
      assert.equal(response.statusCode, 200, appid);
      const reply = openReply(COMPONENT, String(response.body));
      assert.equal(reply.msgType, 'text');
      assert.equal(reply.msgType === 'text' && reply.content, 'TESTCOMPONENT_MSG_TYPE_TEXT_callback');
      assert.equal(reply.toUserName, OPENID);
      assert.equal(reply.fromUserName, ghId);
      assert.equal(reply.createTime, NOW_S);
    }
    assert.equal(seen.length, 0);
    assert.deepEqual(await items('MSG#'), []);
  });

  it('answers an event with <Event>from_callback', async () => {
    // Act
    const location = await deliver(
      'wx9252c5e0bb1836fc',
      eventXml({ toUser: 'gh_c0f28a78b318', fromUser: OPENID, createTime: NOW_S, event: 'LOCATION', extra: '<Latitude>23.1</Latitude>' }),
      'gh_c0f28a78b318',
    );
    const subscribe = await deliver(
      'wxd101a85aa106f53e',
      eventXml({ toUser: 'gh_8dad206e9538', fromUser: OPENID, createTime: NOW_S, event: 'subscribe' }),
      'gh_8dad206e9538',
    );
    // Assess
    const a = openReply(COMPONENT, String(location.body));
    const b = openReply(COMPONENT, String(subscribe.body));
    assert.equal(a.msgType === 'text' && a.content, 'LOCATIONfrom_callback');
    assert.equal(a.fromUserName, 'gh_c0f28a78b318');
    assert.equal(b.msgType === 'text' && b.content, 'subscribefrom_callback');
    assert.equal(b.toUserName, OPENID);
  });

  it('answers QUERY_AUTH_CODE with an empty body and records one task per message, retries included, never logging the code', async () => {
    // Prepare
    const code = 'queryauthcode@@@Zx9-release-test-code';
    const inner = text('gh_26128078e9ab', `QUERY_AUTH_CODE:${code}`);
    // Act
    const first = await deliver('wx14550af28c71a144', inner, 'gh_26128078e9ab');
    const retry = await deliver('wx14550af28c71a144', inner, 'gh_26128078e9ab');
    // Assess
    assert.equal(first.statusCode, 200);
    assert.equal(first.body, '');
    assert.equal(retry.body, '');
    const tasks = await items('EVENT#');
    assert.equal(tasks.length, 1);
    assert.equal(tasks[0]?.kind, 'release_test_task');
    assert.equal(tasks[0]?.infoType, 'query_auth_code');
    assert.equal(tasks[0]?.authorizerAppid, 'wx14550af28c71a144');
    assert.deepEqual(tasks[0]?.payload, { authorizerAppid: 'wx14550af28c71a144', toUser: OPENID, queryAuthCode: code });
    assert.ok(logger.lines.some((l) => l.includes('release_test.api_text.recorded')));
    assert.ok(logger.lines.some((l) => l.includes('release_test.api_text.duplicate')));
    assert.ok(!logger.lines.join('\n').includes('Zx9-release-test-code'));
    assert.equal(seen.length, 0);
  });

  it('hands other messages of a test account to the registry', async () => {
    // Act
    const response = await deliver('wx570bc396a51b8ff8', text('gh_3c884a361561', 'hello'));
    // Assess
    assert.equal(response.body, 'success');
    assert.equal(seen.length, 1);
  });
});

describe('message function: everything else', () => {
  it('answers success and hands a message of an authorized account to the registry once, however often WeChat retries it', async () => {
    // Prepare
    const inner = text('gh_0123456789ab', 'hi there', '22449548215715819');
    // Act
    const responses = [await deliver(OURS, inner), await deliver(OURS, inner), await deliver(OURS, inner)];
    // Assess
    assert.deepEqual(
      responses.map((r) => [r.statusCode, r.body]),
      [
        [200, 'success'],
        [200, 'success'],
        [200, 'success'],
      ],
    );
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.appid, OURS);
    assert.equal(seen[0]?.message.msgType === 'text' && seen[0].message.msgId, '22449548215715819');
    assert.equal(logger.lines.filter((l) => l.includes('message.duplicate')).length, 2);
  });

  it('deduplicates events on sender and CreateTime', async () => {
    // Prepare
    const click = eventXml({ toUser: 'gh_0123456789ab', fromUser: OPENID, createTime: NOW_S - 7, event: 'CLICK', extra: '<EventKey>K1</EventKey>' });
    const later = eventXml({ toUser: 'gh_0123456789ab', fromUser: OPENID, createTime: NOW_S - 6, event: 'CLICK', extra: '<EventKey>K1</EventKey>' });
    // Act
    await deliver(OURS, click);
    await deliver(OURS, click);
    await deliver(OURS, later);
    // Assess
    assert.deepEqual(
      seen.map((s) => s.message.createTime),
      [NOW_S - 7, NOW_S - 6],
    );
  });

  it('seals the reply a registered handler returns', async () => {
    // Prepare
    const own = createMessageHandlerRegistry();
    own.register('text', async (message) => ({ msgType: 'text', content: `you said ${message.content}` }));
    // Act
    const response = await invoke(
      messageEvent(COMPONENT, {
        authorizerAppid: OURS,
        toUser: 'gh_0123456789ab',
        openid: OPENID,
        innerXml: text('gh_0123456789ab', 'ping'),
        timestamp: NOW_S,
      }),
      own,
    );
    // Assess
    const reply = openReply(COMPONENT, String(response.body));
    assert.equal(reply.msgType === 'text' && reply.content, 'you said ping');
    assert.equal(reply.fromUserName, 'gh_0123456789ab');
  });

  it("answers 500 when a handler fails and handles WeChat's retry of that message again", async () => {
    // Prepare
    let calls = 0;
    const flaky = createMessageHandlerRegistry(async () => {
      calls += 1;
      if (calls === 1) throw new Error('downstream unavailable');
    });
    const inner = text('gh_0123456789ab', 'retry me');
    const event = () =>
      messageEvent(COMPONENT, { authorizerAppid: OURS, toUser: 'gh_0123456789ab', openid: OPENID, innerXml: inner, timestamp: NOW_S });
    // Act
    const failed = await invoke(event(), flaky);
    const retried = await invoke(event(), flaky);
    const again = await invoke(event(), flaky);
    // Assess
    assert.equal(failed.statusCode, 500);
    assert.equal(retried.body, 'success');
    assert.equal(again.body, 'success');
    assert.equal(calls, 2);
  });
});

describe('message function: a delivery whose handler is still running or died', () => {
  const event = (inner: string) =>
    messageEvent(COMPONENT, { authorizerAppid: OURS, toUser: 'gh_0123456789ab', openid: OPENID, innerXml: inner, timestamp: NOW_S });
  const invokeWith = (d: Deps, reg: MessageHandlerRegistry, e: HttpEvent) => httpFunction(createHandler(d, reg), logger)(e);

  it("has WeChat's retry handle a message whose first handler died mid-way, instead of dropping it as a duplicate", async () => {
    // Prepare: the first attempt's handler never returns (its Lambda timed out); the clock runs 20x fast, so
    // its handling claim (10 s) runs out while the retry waits.
    const t0 = Date.now();
    const fast = { ...deps, clock: () => NOW + (Date.now() - t0) * 20 };
    let started = 0;
    const hangs = createMessageHandlerRegistry(async () => {
      started += 1;
      await new Promise(() => undefined);
    });
    const inner = text('gh_0123456789ab', 'do not lose me');
    void invokeWith(fast, hangs, event(inner));
    await new Promise((r) => setTimeout(r, 100));
    // Act
    const retried = await invokeWith(fast, registry, event(inner));
    const third = await invokeWith(fast, registry, event(inner));
    // Assess
    assert.equal(started, 1);
    assert.deepEqual([retried.statusCode, retried.body, third.body], [200, 'success', 'success']);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.message.msgType === 'text' && seen[0].message.content, 'do not lose me');
    assert.ok(logger.lines.some((l) => l.includes('message.duplicate')));
  });

  it('has a retry that arrives while the first attempt is still handling wait for it, and not handle the message again', async () => {
    // Prepare
    let calls = 0;
    const slow = createMessageHandlerRegistry(async () => {
      calls += 1;
      await new Promise((r) => setTimeout(r, 500));
    });
    const inner = text('gh_0123456789ab', 'slow one');
    // Act
    const first = invokeWith(deps, slow, event(inner));
    await new Promise((r) => setTimeout(r, 100));
    const retryStarted = Date.now();
    const retried = await invokeWith(deps, slow, event(inner));
    const waitedMs = Date.now() - retryStarted;
    // Assess
    assert.equal(calls, 1);
    assert.equal(retried.body, 'success');
    assert.equal((await first).body, 'success');
    assert.ok(waitedMs >= 300, `the retry answered after ${waitedMs} ms, before the first attempt finished`);
    assert.ok(logger.lines.some((l) => l.includes('message.duplicate')));
  });
});

describe('message function: rejections', () => {
  const rejectedCases: [string, () => HttpEvent][] = [
    [
      'a malformed path appid',
      () => ({
        ...messageEvent(COMPONENT, { authorizerAppid: OURS, toUser: 'gh_x', openid: OPENID, innerXml: text('gh_x', 'x'), timestamp: NOW_S }),
        pathParameters: { appid: '../wx1' },
      }),
    ],
    [
      'an account that never authorized',
      () =>
        messageEvent(COMPONENT, {
          authorizerAppid: 'wx9999999999999999',
          toUser: 'gh_x',
          openid: OPENID,
          innerXml: text('gh_x', 'x'),
          timestamp: NOW_S,
        }),
    ],
    [
      'an account that unauthorized',
      () => messageEvent(COMPONENT, { authorizerAppid: GONE, toUser: 'gh_x', openid: OPENID, innerXml: text('gh_x', 'x'), timestamp: NOW_S }),
    ],
    [
      'a wrong signature',
      () => {
        const event = messageEvent(COMPONENT, {
          authorizerAppid: OURS,
          toUser: 'gh_x',
          openid: OPENID,
          innerXml: text('gh_x', 'x'),
          timestamp: NOW_S,
        });
        return { ...event, queryStringParameters: { ...event.queryStringParameters, msg_signature: '0'.repeat(40) } };
      },
    ],
    [
      'a message sealed for another component',
      () =>
        messageEvent(
          { ...COMPONENT, appId: 'wx0000000000000001' },
          { authorizerAppid: OURS, toUser: 'gh_x', openid: OPENID, innerXml: text('gh_x', 'x'), timestamp: NOW_S },
        ),
    ],
    [
      'a stale timestamp',
      () => messageEvent(COMPONENT, { authorizerAppid: OURS, toUser: 'gh_x', openid: OPENID, innerXml: text('gh_x', 'x'), timestamp: NOW_S - 3600 }),
    ],
    [
      'a signed message without MsgId',
      () =>
        messageEvent(COMPONENT, {
          authorizerAppid: OURS,
          toUser: 'gh_x',
          openid: OPENID,
          innerXml: `<xml><ToUserName>gh_x</ToUserName><FromUserName>u</FromUserName><CreateTime>${NOW_S}</CreateTime><MsgType>text</MsgType><Content>x</Content></xml>`,
          timestamp: NOW_S,
        }),
    ],
  ];
  for (const [name, build] of rejectedCases) {
    it(`answers the uniform 400 to ${name} and writes nothing`, async () => {
      // Prepare
      const before = (await items('')).length;
      // Act
      const response = await invoke(build());
      // Assess
      assert.equal(response.statusCode, 400);
      assert.equal(response.body, 'invalid request');
      assert.equal((await items('')).length, before);
      assert.equal(seen.length, 0);
    });
  }

  it("answers the uniform 400 to a release-test account's message with a bad signature", async () => {
    // Prepare
    const event = messageEvent(COMPONENT, {
      authorizerAppid: 'wx570bc396a51b8ff8',
      toUser: 'gh_3c884a361561',
      openid: OPENID,
      innerXml: text('gh_3c884a361561', 'TESTCOMPONENT_MSG_TYPE_TEXT'),
      timestamp: NOW_S,
    });
    // Act
    const response = await invoke({ ...event, queryStringParameters: { ...event.queryStringParameters, timestamp: String(NOW_S - 1) } });
    // Assess
    assert.equal(response.statusCode, 400);
    assert.equal(response.body, 'invalid request');
  });
});

describe('message function: the path account must be the recipient', () => {
  const BOUND = 'wx9999aaaabbbbcccc';
  const OTHER = 'wx9999aaaabbbbdddd';
  const BOUND_GH = 'gh_b0und0000001';
  before(async () => {
    const profile = { refreshToken: 'refreshtoken@@@bound', funcInfo: [1], authorizedAt: NOW_S - 100 };
    await saveAuthorization(deps, BOUND, { ...profile, info: { nickName: 'Bound', userName: BOUND_GH, isMiniProgram: false } });
    await saveAuthorization(deps, OTHER, { ...profile, info: { nickName: 'Other', userName: 'gh_0ther0000001', isMiniProgram: false } });
  });

  it('accepts a message whose ToUserName is the gh_ id stored for the path account', async () => {
    // Act
    const response = await deliver(BOUND, text(BOUND_GH, 'hello'), BOUND_GH);
    // Assess
    assert.equal(response.statusCode, 200);
    assert.deepEqual(
      seen.map((s) => s.appid),
      [BOUND],
    );
  });

  it("answers the uniform 400 to a message replayed onto another account's path, writing nothing", async () => {
    // Prepare: a genuine message to BOUND (gh_b0und…), delivered to OTHER's URL.
    const before = (await items('')).length;
    // Act
    const response = await deliver(OTHER, text(BOUND_GH, 'replayed'), BOUND_GH);
    // Assess
    assert.equal(response.statusCode, 400);
    assert.equal(response.body, 'invalid request');
    assert.equal((await items('')).length, before);
    assert.equal(seen.length, 0);
    assert.ok(logger.records().some((r) => r.event === 'request.rejected' && r.reason === 'message.to_user.mismatch'));
  });

  it('accepts any recipient for an account whose gh_ id is not stored yet', async () => {
    // Act: OURS has a profile without info.
    const response = await deliver(OURS, text('gh_anything00001', 'early'), 'gh_anything00001');
    // Assess
    assert.equal(response.statusCode, 200);
    assert.equal(seen.length, 1);
  });
});
