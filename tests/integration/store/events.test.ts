import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { EVENT_TTL_S, eventFromStreamImage, eventId, EventShapeError, recordEvent, type NewEvent } from '../../../lib/store/events.ts';
import type { StoreDeps } from '../../../lib/store/keys.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';

const NOW = Date.parse('2026-11-23T20:00:00Z');
const NOW_S = NOW / 1000;
let table: TestTable;
let deps: StoreDeps;

const authorized = (overrides: Partial<NewEvent> = {}): NewEvent => ({
  kind: 'component_push',
  infoType: 'authorized',
  componentAppId: 'wx5ce1ab0c0ffee000',
  authorizerAppid: 'wxc736b9251b3c6c41',
  createTime: NOW_S - 5,
  payload: { AuthorizerAppid: 'wxc736b9251b3c6c41', AuthorizationCode: 'queryauthcode@@@abc', AuthorizationCodeExpiredTime: String(NOW_S + 3595) },
  ...overrides,
});

const getItem = async (id: string) =>
  (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: `EVENT#${id}`, sk: 'EVENT' } }))).Item;

before(async () => {
  table = await createTestTable();
  deps = { doc: table.doc, tableName: table.tableName, clock: () => NOW };
});
after(async () => table.close());

describe('events.recordEvent', () => {
  it('writes the EVENT item with a 7-day expiresAt and the payload as strings', async () => {
    // Prepare
    const event = authorized({ createTime: NOW_S - 100 });
    // Act
    const result = await recordEvent(deps, event);
    // Assess
    assert.equal(result, 'recorded');
    assert.deepEqual(await getItem(eventId(event)), {
      pk: `EVENT#${eventId(event)}`,
      sk: 'EVENT',
      kind: 'component_push',
      infoType: 'authorized',
      componentAppId: event.componentAppId,
      authorizerAppid: event.authorizerAppid,
      createTime: NOW_S - 100,
      payload: event.payload,
      receivedAt: NOW_S,
      expiresAt: NOW_S + EVENT_TTL_S,
    });
  });

  it('reports a second delivery of the same push as a duplicate and keeps one item', async () => {
    // Prepare
    const event = authorized({ createTime: NOW_S - 200 });
    const later = { ...deps, clock: () => NOW + 60_000 };
    // Act
    const results = [await recordEvent(deps, event), await recordEvent(later, event), await recordEvent(later, event)];
    // Assess
    assert.deepEqual(results, ['recorded', 'duplicate', 'duplicate']);
    const { Items } = await table.doc.send(new ScanCommand({ TableName: table.tableName }));
    assert.equal(Items?.filter((i) => i.pk === `EVENT#${eventId(event)}`).length, 1);
    assert.equal((await getItem(eventId(event)))?.receivedAt, NOW_S);
  });

  it('gives different pushes different ids', () => {
    const base = authorized();
    const ids = new Set([
      eventId(base),
      eventId({ ...base, infoType: 'unauthorized' }),
      eventId({ ...base, authorizerAppid: 'wx0000000000000001' }),
      eventId({ ...base, createTime: base.createTime + 1 }),
      eventId({ ...base, componentAppId: 'wx0000000000000002' }),
      eventId({ ...base, authorizerAppid: undefined }),
    ]);
    assert.equal(ids.size, 6);
    assert.match(eventId(base), /^[0-9a-f]{64}$/);
  });
});

describe('events.eventFromStreamImage', () => {
  it('reads back what recordEvent wrote', async () => {
    // Prepare
    const event = authorized({ createTime: NOW_S - 300 });
    await recordEvent(deps, event);
    const image = await getItem(eventId(event));
    // Act
    const stored = eventFromStreamImage(image!);
    // Assess
    assert.deepEqual(
      { ...stored, payload: { ...stored.payload } },
      {
        ...event,
        id: eventId(event),
        receivedAt: NOW_S,
        expiresAt: NOW_S + EVENT_TTL_S,
      },
    );
  });

  it('accepts an event without an authorizer appid', () => {
    const image = {
      pk: 'EVENT#abc',
      sk: 'EVENT',
      kind: 'release_test_task',
      infoType: 'text',
      componentAppId: 'wx1',
      createTime: 1,
      payload: {},
      receivedAt: 2,
      expiresAt: 3,
    };
    assert.equal(eventFromStreamImage(image).authorizerAppid, undefined);
    assert.equal(eventFromStreamImage(image).id, 'abc');
  });

  it('names the first malformed attribute in a typed error', () => {
    const good = {
      pk: 'EVENT#abc',
      sk: 'EVENT',
      kind: 'component_push',
      infoType: 'authorized',
      componentAppId: 'wx1',
      createTime: 1,
      payload: { a: 'b' },
      receivedAt: 2,
      expiresAt: 3,
    };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...good, pk: 'COMPONENT#wx1' }, 'pk'],
      [{ ...good, sk: 'TICKET' }, 'pk'],
      [{ ...good, kind: 'other' }, 'kind'],
      [{ ...good, infoType: undefined }, 'infoType'],
      [{ ...good, createTime: '1' }, 'createTime'],
      [{ ...good, payload: { a: 1 } }, 'payload.a'],
      [{ ...good, payload: 'x' }, 'payload'],
      [{ ...good, authorizerAppid: 5 }, 'authorizerAppid'],
      [{ ...good, expiresAt: undefined }, 'expiresAt'],
    ];
    for (const [image, field] of cases) {
      assert.throws(
        () => eventFromStreamImage(image),
        (e: unknown) => e instanceof EventShapeError && e.field === field,
        field,
      );
    }
  });
});
