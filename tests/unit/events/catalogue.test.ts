// The catalogue and its documents: a schema and a sample for every DetailType, samples that validate, and
// the two checkers the emitted-events test relies on (the schema subset validator and the secret scan)
// catching what they are meant to catch.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { buildEvent, DETAIL_TYPES, DetailType, EVENT_SOURCE, schemaName } from '../../../lib/events/catalogue.ts';
import { accountMessageEvent, isAnnounced } from '../../../lib/events/message-events.ts';
import { parseAccountMessage } from '../../../lib/wechat/account-messages.ts';
import { validate } from '../../helpers/json-schema.ts';
import { findSecrets } from '../../helpers/secret-scan.ts';

const DIR = new URL('../../../docs/events/', import.meta.url);
const json = (name: string) => JSON.parse(readFileSync(new URL(name, DIR), 'utf8'));
const deps = { config: { componentAppId: 'wx5ce1ab0c0ffee000' } };

describe('event catalogue', () => {
  it('has exactly the design’s thirteen types, each with a schema and a sample that validates, and nothing else in docs/events', () => {
    // Act
    const problems = DETAIL_TYPES.flatMap((type) => {
      const sample = json(`${schemaName(type)}.sample.json`);
      return [
        ...(sample.Source === EVENT_SOURCE && sample.DetailType === type ? [] : [`${type}: sample envelope`]),
        ...validate(json(`${schemaName(type)}.schema.json`), sample.Detail).map((p) => `${type}: ${p}`),
      ];
    });
    // Assess
    assert.equal(DETAIL_TYPES.length, 13);
    assert.deepEqual(problems, []);
    const expected = DETAIL_TYPES.flatMap((t) => [`${schemaName(t)}.sample.json`, `${schemaName(t)}.schema.json`]).sort();
    assert.deepEqual(readdirSync(DIR).sort(), expected);
  });

  it('builds a complete Detail with a stable id, whose envelope a field can never replace', () => {
    // Act
    const input = { detailType: DetailType.AuthorizerAuthorized, identity: ['wx0123456789abcdef', 1700000000], occurredAt: 1_700_000_000_000 };
    const a = buildEvent(deps, { ...input, authorizerAppid: 'wx0123456789abcdef', tenant: 't1', fields: { funcInfo: [1], eventId: 'forged' } });
    const b = buildEvent(deps, { ...input, fields: { funcInfo: [2] } });
    // Assess
    assert.equal(a.eventId, b.eventId, 'the same change, the same id');
    assert.match(a.eventId, /^[0-9a-f]{32}$/);
    assert.deepEqual(a.detail, {
      eventId: a.eventId,
      componentAppId: 'wx5ce1ab0c0ffee000',
      occurredAt: '2023-11-14T22:13:20.000Z',
      authorizerAppid: 'wx0123456789abcdef',
      tenant: 't1',
      funcInfo: [1],
    });
    assert.deepEqual(validate(json('authorizer-authorized.schema.json'), a.detail), []);
  });

  it('selects account messages by MsgType, every event, one event, or all; and withholds tickets and tokens', () => {
    // Prepare
    const subscribe = parseAccountMessage(
      '<xml><ToUserName>gh_1</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType>' +
        '<Event>subscribe</Event><EventKey>qrscene_1</EventKey><Ticket>gQH47joAAAAAAAAAASxodHRwOi8v</Ticket><AccessToken>x</AccessToken></xml>',
    );
    const text = parseAccountMessage(
      '<xml><ToUserName>gh_1</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>hi</Content><MsgId>7</MsgId></xml>',
    );
    // Act
    const selected = (selectors: string[]) => [isAnnounced(selectors, subscribe), isAnnounced(selectors, text)];
    const event = accountMessageEvent(deps, 'wx0123456789abcdef', undefined, subscribe, 'dedupe');
    // Assess
    assert.deepEqual(selected([]), [false, false]);
    assert.deepEqual(selected(['text']), [false, true]);
    assert.deepEqual(selected(['event']), [true, false]);
    assert.deepEqual(selected(['event:subscribe']), [true, false]);
    assert.deepEqual(selected(['event:CLICK']), [false, false]);
    assert.deepEqual(selected(['*']), [true, true]);
    assert.deepEqual(event.detail.fields, { EventKey: 'qrscene_1' });
    assert.deepEqual(validate(json('account-message.schema.json'), event.detail), []);
  });

  it('validator: refuses wrong types, patterns, extra fields and bad dates, and will not pass a keyword it does not check', () => {
    // Prepare
    const schema = json('token-refresh-failed.schema.json');
    const good = json('token-refresh-failed.sample.json').Detail;
    // Act
    const problems = [
      validate(schema, { ...good, errcode: '45009' }),
      validate(schema, { ...good, eventId: 'XYZ' }),
      validate(schema, { ...good, accessToken: 'abc' }),
      validate(schema, { ...good, occurredAt: 'yesterday' }),
      validate(schema, Object.fromEntries(Object.entries(good).filter(([k]) => k !== 'errmsg'))),
    ];
    // Assess
    assert.ok(
      problems.every((p) => p.length > 0),
      JSON.stringify(problems),
    );
    assert.throws(() => validate({ type: 'object', oneOf: [] }, {}), /oneOf/);
  });

  it('secret scan: finds a known value, a credential prefix, a credential-like field and an opaque token, and passes the samples', () => {
    // Act
    const found = [
      findSecrets({ note: 'xx-known-secret-value-xx' }, new Set(['known-secret-value'])),
      findSecrets({ a: ['refreshtoken@@@abc'] }, new Set()),
      findSecrets({ nested: { accessToken: 'short' } }, new Set()),
      findSecrets({ v: 'A'.repeat(96) }, new Set()),
    ];
    const samples = DETAIL_TYPES.flatMap((t) => findSecrets(json(`${schemaName(t)}.sample.json`), new Set()));
    // Assess
    assert.ok(
      found.every((f) => f.length === 1),
      JSON.stringify(found),
    );
    assert.deepEqual(samples, []);
  });
});
