import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createHandler } from '../../../functions/ticket/handler.ts';
import type { Deps } from '../../../lib/runtime/deps.ts';
import type { HttpResult } from '../../../lib/runtime/http.ts';
import { createMemoryLogger } from '../../../lib/kernel/logger.ts';
import { eventFromStreamImage } from '../../../lib/store/events.ts';
import { computeSignature, decodeAesKey } from '../../../lib/wechat/crypto.ts';
import { SIMULATOR_COMPONENT } from '../../../infra/local/credentials.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';
import {
  authorizedXml,
  encryptedPushEvent,
  fastRegisterXml,
  httpEvent,
  outerBody,
  pushQuery,
  sealPush,
  ticketXml,
  unauthorizedXml,
} from '../../helpers/wechat-push.ts';
import { httpFunction } from '../../helpers/lambda.ts';
import { worldDeps } from '../../helpers/world.ts';

const NOW = Date.parse('2026-11-23T20:00:00Z');
const NOW_S = NOW / 1000;
const C = SIMULATOR_COMPONENT;
const KEYS = { token: C.token, encodingAesKey: C.encodingAesKey, appId: C.appId, timestamp: String(NOW_S) };
const AES_KEY = decodeAesKey(C.encodingAesKey);
const AUTHORIZER = 'wxc736b9251b3c6c41';

let table: TestTable;
let logger: ReturnType<typeof createMemoryLogger>;
let deps: Deps;
let invoke: (event: APIGatewayProxyEventV2) => Promise<HttpResult>;
/** Every credential value sent in this file: none may appear in any log line. */
const sentSecrets = new Set<string>();
let serial = 0;

const handlerFor = (d: Deps) => {
  return httpFunction(createHandler(d), d.logger);
};

const ticketValue = () => {
  const ticket = `ticket@@@T${(serial += 1)}-${'x'.repeat(40)}`;
  sentSecrets.add(ticket);
  return ticket;
};
const codeValue = () => {
  const code = `queryauthcode@@@C${(serial += 1)}-${'y'.repeat(40)}`;
  sentSecrets.add(code);
  return code;
};

const allItems = async () => (await table.doc.send(new ScanCommand({ TableName: table.tableName, ConsistentRead: true }))).Items ?? [];
const ticketItem = async () =>
  (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: `COMPONENT#${C.appId}`, sk: 'TICKET' }, ConsistentRead: true })))
    .Item;

/** Raw AES-CBC over an arbitrary plain text, to build cipher texts our encrypt() would never produce. */
const rawCipher = (plain: Buffer): string => {
  const cipher = createCipheriv('aes-256-cbc', AES_KEY, AES_KEY.subarray(0, 16)).setAutoPadding(false);
  return Buffer.concat([cipher.update(plain), cipher.final()]).toString('base64');
};
/** A push whose Encrypt is given as is and signed correctly, so the check under test is the one after the signature. */
const signedEvent = (encrypt: string, timestamp = String(NOW_S), nonce = '1320562132') =>
  httpEvent({
    rawPath: '/wechat/component/events',
    query: pushQuery(C.token, { encrypt, timestamp, nonce, msgSignature: computeSignature(C.token, timestamp, nonce, encrypt) }),
    body: outerBody(encrypt, C.appId),
  });
const plainWith = (message: Buffer, lengthField: number, pad: number, appId = C.appId) => {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(lengthField >>> 0, 0);
  const body = Buffer.concat([Buffer.alloc(16, 7), length, message, Buffer.from(appId)]);
  const padding = 32 - (body.length % 32);
  return Buffer.concat([body, Buffer.alloc(padding, pad === -1 ? padding : pad)]);
};

before(async () => {
  table = await createTestTable();
  logger = createMemoryLogger('debug');
  deps = worldDeps(table, { clock: () => NOW, logger });
  invoke = handlerFor(deps);
});
after(async () => table.close());

describe('ticket handler: genuine pushes', () => {
  it('stores a verify ticket with expiresAt 12 h after CreateTime and answers exactly success', async () => {
    // Prepare
    const ticket = ticketValue();
    const event = encryptedPushEvent(ticketXml({ appId: C.appId, createTime: NOW_S - 30, ticket }), KEYS);
    // Act
    const response = await invoke(event);
    // Assess
    assert.equal(response.statusCode, 200);
    assert.equal(response.body, 'success');
    assert.equal(response.headers?.['content-type'], 'text/plain');
    const item = await ticketItem();
    assert.equal(item?.ticket, ticket);
    assert.equal(item?.createTime, NOW_S - 30);
    assert.equal(item?.expiresAt, NOW_S - 30 + 43_200);
    assert.ok(logger.records().some((r) => r.event === 'verify_ticket.saved' && r.componentAppId === C.appId && r.createTime === NOW_S - 30));
  });

  it('keeps the newer ticket when an older push arrives after it', async () => {
    // Prepare
    const [newer, older] = [ticketValue(), ticketValue()];
    await invoke(encryptedPushEvent(ticketXml({ appId: C.appId, createTime: NOW_S - 10, ticket: newer }), KEYS));
    // Act
    const response = await invoke(encryptedPushEvent(ticketXml({ appId: C.appId, createTime: NOW_S - 20, ticket: older }), KEYS));
    // Assess
    assert.equal(response.body, 'success');
    assert.equal((await ticketItem())?.ticket, newer);
    assert.ok(logger.records().some((r) => r.event === 'verify_ticket.stale' && r.createTime === NOW_S - 20));
  });

  it('accepts a body API Gateway delivered base64-encoded', async () => {
    // Prepare
    const ticket = ticketValue();
    const event = encryptedPushEvent(ticketXml({ appId: C.appId, createTime: NOW_S - 5, ticket }), KEYS);
    event.body = Buffer.from(event.body!, 'utf8').toString('base64');
    event.isBase64Encoded = true;
    // Act
    const response = await invoke(event);
    // Assess
    assert.equal(response.body, 'success');
    assert.equal((await ticketItem())?.ticket, ticket);
  });

  it('records one EVENT item when the same authorized push is delivered three times', async () => {
    // Prepare
    const code = codeValue();
    const xml = authorizedXml({
      appId: C.appId,
      createTime: NOW_S - 60,
      authorizerAppid: AUTHORIZER,
      code,
      preAuthCode: 'preauthcode@@@P1-zzzzzzzz',
    });
    sentSecrets.add('preauthcode@@@P1-zzzzzzzz');
    const before = (await allItems()).length;
    // Act
    const responses = [];
    for (let i = 0; i < 3; i += 1) responses.push(await invoke(encryptedPushEvent(xml, { ...KEYS, nonce: `n${i}` })));
    // Assess
    assert.deepEqual(
      responses.map((r) => `${r.statusCode} ${r.body}`),
      ['200 success', '200 success', '200 success'],
    );
    const events = (await allItems()).filter((i) => i.sk === 'EVENT' && i.payload?.AuthorizationCode === code);
    assert.equal(events.length, 1);
    assert.equal((await allItems()).length, before + 1);
    const event = eventFromStreamImage(events[0]!);
    assert.equal(event.kind, 'component_push');
    assert.equal(event.infoType, 'authorized');
    assert.equal(event.componentAppId, C.appId);
    assert.equal(event.authorizerAppid, AUTHORIZER);
    assert.equal(event.createTime, NOW_S - 60);
    assert.equal(event.expiresAt, NOW_S + 7 * 86_400);
    assert.equal(event.payload.AuthorizationCodeExpiredTime, String(NOW_S - 60 + 3600));
    assert.deepEqual(
      logger
        .records()
        .filter((r) => String(r.eventId) === event.id)
        .map((r) => r.event),
      ['component_event.recorded', 'component_event.duplicate', 'component_event.duplicate'],
    );
  });

  it('records unauthorized, updateauthorized and fast-registration pushes as EVENT items', async () => {
    // Prepare
    const fastAppid = 'wx1234567890abcdef';
    const pushes = [
      unauthorizedXml({ appId: C.appId, createTime: NOW_S - 40, authorizerAppid: AUTHORIZER }),
      authorizedXml({ appId: C.appId, createTime: NOW_S - 41, authorizerAppid: AUTHORIZER, code: codeValue(), infoType: 'updateauthorized' }),
      fastRegisterXml({ appId: C.appId, createTime: NOW_S - 42, appid: fastAppid, authCode: codeValue() }),
    ];
    // Act
    for (const xml of pushes) assert.equal((await invoke(encryptedPushEvent(xml, KEYS))).body, 'success');
    // Assess
    const events = (await allItems()).filter((i) => i.sk === 'EVENT').map((i) => eventFromStreamImage(i));
    const find = (infoType: string, createTime: number) => events.find((e) => e.infoType === infoType && e.createTime === createTime);
    assert.equal(find('unauthorized', NOW_S - 40)?.authorizerAppid, AUTHORIZER);
    assert.equal(find('updateauthorized', NOW_S - 41)?.authorizerAppid, AUTHORIZER);
    const fast = find('notify_third_fasteregister', NOW_S - 42);
    assert.equal(fast?.authorizerAppid, fastAppid);
    assert.equal(fast?.payload['info.name'], 'Acme Ltd');
  });

  it('acknowledges an unknown InfoType with success, logs it and writes nothing', async () => {
    // Prepare
    const xml = `<xml><AppId>${C.appId}</AppId><CreateTime>${NOW_S}</CreateTime><InfoType>notify_3rd_wxa_wxverify</InfoType><appid>wx1234567890abcdef</appid></xml>`;
    const before = (await allItems()).length;
    // Act
    const response = await invoke(encryptedPushEvent(xml, KEYS));
    // Assess
    assert.equal(response.statusCode, 200);
    assert.equal(response.body, 'success');
    assert.equal((await allItems()).length, before);
    assert.ok(logger.records().some((r) => r.event === 'component_push.unhandled' && r.infoType === 'notify_3rd_wxa_wxverify'));
  });

  it('accepts a stale timestamp when PUSH_MAX_SKEW_S is 0', async () => {
    // Prepare
    const config = { ...deps.config, pushMaxSkewS: 0 };
    const lenient = handlerFor({ ...deps, config });
    const ticket = ticketValue();
    const event = encryptedPushEvent(ticketXml({ appId: C.appId, createTime: NOW_S - 1, ticket }), { ...KEYS, timestamp: String(NOW_S - 86_400) });
    // Act
    const response = await lenient(event);
    // Assess
    assert.equal(response.body, 'success');
    assert.equal((await ticketItem())?.ticket, ticket);
  });
});

describe('ticket handler: forged, tampered and hostile requests', () => {
  const valid = () => sealPush(ticketXml({ appId: C.appId, createTime: NOW_S + 100, ticket: ticketValue() }), KEYS);
  const flipBit = (encrypt: string, byte: number) => {
    const bytes = Buffer.from(encrypt, 'base64');
    bytes[byte] = bytes[byte]! ^ 0x01;
    return bytes.toString('base64');
  };
  const validPlain = Buffer.from(ticketXml({ appId: C.appId, createTime: NOW_S + 100, ticket: 'ticket@@@never-stored-0001' }));
  sentSecrets.add('ticket@@@never-stored-0001');
  const laughs =
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><xml><Encrypt>&lol3;</Encrypt></xml>';
  const query = () => pushQuery(C.token, valid());
  const withQuery = (body: string, q = query()) => httpEvent({ rawPath: '/wechat/component/events', query: q, body });
  const withoutParam = (name: string) => {
    const e = valid();
    const q = pushQuery(C.token, e);
    delete q[name];
    return withQuery(outerBody(e.encrypt, C.appId), q);
  };

  const cases: [string, () => APIGatewayProxyEventV2, string][] = [
    [
      'a flipped bit in Encrypt (signature no longer matches)',
      () => {
        const e = valid();
        return withQuery(outerBody(flipBit(e.encrypt, 40), C.appId), pushQuery(C.token, e));
      },
      'signature.mismatch',
    ],
    [
      'a flipped bit in the last block, re-signed (padding breaks)',
      () => signedEvent(flipBit(valid().encrypt, Buffer.from(valid().encrypt, 'base64').length - 1)),
      'decrypt.',
    ],
    ['a flipped bit in the first block, re-signed (length or appid breaks)', () => signedEvent(flipBit(valid().encrypt, 17)), 'decrypt.'],
    [
      'a push encrypted for another component',
      () =>
        encryptedPushEvent(ticketXml({ appId: 'wx0123456789abcdef', createTime: NOW_S, ticket: ticketValue() }), {
          ...KEYS,
          appId: 'wx0123456789abcdef',
          outerAppId: C.appId,
        }),
      'decrypt.appId',
    ],
    [
      'another component in the outer AppId',
      () =>
        encryptedPushEvent(ticketXml({ appId: C.appId, createTime: NOW_S, ticket: ticketValue() }), { ...KEYS, outerAppId: 'wx0123456789abcdef' }),
      'envelope.AppId.mismatch',
    ],
    [
      'another component in the inner AppId',
      () => encryptedPushEvent(ticketXml({ appId: 'wx0123456789abcdef', createTime: NOW_S, ticket: ticketValue() }), { ...KEYS, outerAppId: null }),
      'message.AppId.mismatch',
    ],
    [
      'a push signed with the wrong token',
      () => encryptedPushEvent(ticketXml({ appId: C.appId, createTime: NOW_S, ticket: ticketValue() }), { ...KEYS, token: 'someoneElsesToken' }),
      'signature.mismatch',
    ],
    [
      'a push encrypted with the wrong key',
      () =>
        encryptedPushEvent(ticketXml({ appId: C.appId, createTime: NOW_S, ticket: ticketValue() }), {
          ...KEYS,
          encodingAesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
        }),
      'decrypt.',
    ],
    ['bad padding (pad byte 0)', () => signedEvent(rawCipher(plainWith(validPlain, validPlain.length, 0))), 'decrypt.decrypt'],
    [
      'bad padding (unequal pad bytes)',
      () => signedEvent(rawCipher(Buffer.concat([plainWith(validPlain, validPlain.length, -1).subarray(0, -2), Buffer.from([9, 2])]))),
      'decrypt.decrypt',
    ],
    ['a huge length field', () => signedEvent(rawCipher(plainWith(validPlain, 0x7fffffff, -1))), 'decrypt.buffer'],
    [
      'truncated base64',
      () => {
        const e = valid();
        return withQuery(outerBody(e.encrypt.slice(0, -3), C.appId), pushQuery(C.token, e));
      },
      'envelope.Encrypt.not_base64',
    ],
    ['base64 truncated to a partial block, re-signed', () => signedEvent(valid().encrypt.slice(0, 64)), 'decrypt.buffer'],
    ['no Encrypt element', () => withQuery(`<xml><AppId>${C.appId}</AppId></xml>`), 'envelope.Encrypt.missing'],
    ['an empty <xml/>', () => withQuery('<xml/>'), 'envelope.Encrypt.missing'],
    ['non-base64 Encrypt', () => withQuery(outerBody('not*base64!', C.appId)), 'envelope.Encrypt.not_base64'],
    [
      'a DOCTYPE with an external entity',
      () => withQuery('<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Encrypt>&xxe;</Encrypt></xml>'),
      'xml.declaration',
    ],
    ['billion laughs', () => withQuery(laughs), 'xml.declaration'],
    ['a 1 MiB body', () => withQuery(outerBody('A'.repeat(1024 * 1024), C.appId)), 'body.too_large'],
    ['a non-XML body', () => withQuery('{"Encrypt":"abc"}'), 'xml.malformed'],
    ['an empty body', () => withQuery(''), 'xml.malformed'],
    ['deep nesting', () => withQuery(`<xml>${'<a>'.repeat(150)}${'</a>'.repeat(150)}</xml>`), 'xml.too_deep'],
    [
      'a __proto__ element',
      () => withQuery(`<xml><__proto__><Encrypt>x</Encrypt></__proto__><Encrypt>${valid().encrypt}</Encrypt></xml>`),
      'xml.reserved_name',
    ],
    ['a constructor element', () => withQuery(`<xml><constructor><prototype>1</prototype></constructor></xml>`), 'xml.reserved_name'],
    ['missing msg_signature', () => withoutParam('msg_signature'), 'query.msg_signature.missing'],
    ['missing timestamp', () => withoutParam('timestamp'), 'query.timestamp.missing'],
    ['missing nonce', () => withoutParam('nonce'), 'query.nonce.missing'],
    [
      'no query string at all',
      () => httpEvent({ rawPath: '/wechat/component/events', body: outerBody(valid().encrypt, C.appId) }),
      'query.msg_signature.missing',
    ],
    [
      'a malformed msg_signature',
      () => withQuery(outerBody(valid().encrypt, C.appId), { ...query(), msg_signature: 'zz' }),
      'query.msg_signature.malformed',
    ],
    [
      'a timestamp older than PUSH_MAX_SKEW_S',
      () => encryptedPushEvent(ticketXml({ appId: C.appId, createTime: NOW_S, ticket: ticketValue() }), { ...KEYS, timestamp: String(NOW_S - 601) }),
      'timestamp.skew',
    ],
    [
      'a timestamp too far in the future',
      () => encryptedPushEvent(ticketXml({ appId: C.appId, createTime: NOW_S, ticket: ticketValue() }), { ...KEYS, timestamp: String(NOW_S + 601) }),
      'timestamp.skew',
    ],
    [
      'a DOCTYPE inside the encrypted message',
      () => encryptedPushEvent(`<!DOCTYPE x [<!ENTITY a "b">]>${validPlain}`, KEYS),
      'message.xml.declaration',
    ],
    [
      'a ticket push without its ticket',
      () =>
        encryptedPushEvent(`<xml><AppId>${C.appId}</AppId><CreateTime>${NOW_S}</CreateTime><InfoType>component_verify_ticket</InfoType></xml>`, KEYS),
      'message.ComponentVerifyTicket.missing',
    ],
    [
      'an authorized push with a malformed expiry',
      () =>
        encryptedPushEvent(
          authorizedXml({ appId: C.appId, createTime: NOW_S, authorizerAppid: AUTHORIZER, code: codeValue() }).replace(
            /ExpiredTime>\d+</,
            'ExpiredTime>soon<',
          ),
          KEYS,
        ),
      'message.AuthorizationCodeExpiredTime.malformed',
    ],
  ];

  const durations: { case: string; ms: number }[] = [];
  after(() => {
    const rows = durations.map((d) => `  ${d.ms.toFixed(2).padStart(8)} ms  ${d.case}`);
    console.log(`rejections (handler time, DynamoDB Local):\n${rows.join('\n')}`);
  });

  for (const [name, build, reason] of cases) {
    it(`answers 400 "invalid request" and writes nothing for ${name}`, async () => {
      // Prepare
      const event = build();
      const itemsBefore = await allItems();
      const linesBefore = logger.lines.length;
      // Act
      const started = performance.now();
      const response = await invoke(event);
      durations.push({ case: name, ms: performance.now() - started });
      // Assess
      assert.equal(response.statusCode, 400);
      assert.equal(response.body, 'invalid request');
      assert.deepEqual(await allItems(), itemsBefore);
      const rejected = logger
        .records()
        .slice(linesBefore)
        .filter((r) => r.event === 'request.rejected');
      assert.equal(rejected.length, 1);
      assert.ok(String(rejected[0]!.reason).startsWith(reason), `reason ${String(rejected[0]!.reason)} should start with ${reason}`);
    });
  }
});

describe('ticket handler: logs', () => {
  it('never logs a ticket, an authorization code or a pre-auth code', () => {
    assert.ok(sentSecrets.size > 10);
    assert.ok(logger.lines.length > 40);
    for (const line of logger.lines) {
      for (const secret of sentSecrets) assert.ok(!line.includes(secret), `a log line contains ${secret.slice(0, 12)}…`);
      assert.doesNotMatch(line, /(ticket|queryauthcode|preauthcode)@@@[A-Za-z0-9]/);
    }
  });
});
