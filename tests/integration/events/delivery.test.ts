// The outbox's way to the bus: OUTBOX items written to DynamoDB Local, the table's real stream read by the
// local poller with the `events` function's settings from serverless.yml, the real `events` handler, the real
// EventBridge client, and the local bus (which validates as EventBridge does and appends what it accepts).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { createHandler } from '../../../functions/events/handler.ts';
import { startEventBus, type LineOfEvent, type LocalEventBus } from '../../../infra/local/event-bus.ts';
import { startStreamPoller, streamSettingsFromServerless, type StreamPoller } from '../../../infra/local/stream-poller.ts';
import { buildEvent, DetailType } from '../../../lib/events/catalogue.ts';
import { createMemoryLogger } from '../../../lib/kernel/logger.ts';
import { createMemoryMetrics } from '../../../lib/kernel/metrics.ts';
import { loadConfig } from '../../../lib/runtime/config.ts';
import { createEventBridgeClient, createEventsDeps, putEventsWith } from '../../../lib/runtime/events-deps.ts';
import { outboxPut, type OutboxEvent } from '../../../lib/store/outbox.ts';
import { simulatorEnv } from '../../../infra/local/credentials.ts';
import { unauthorizedEvents } from '../../../lib/events/authorizer-events.ts';
import { getAuthorizer, markUnauthorized } from '../../../lib/store/authorizers.ts';
import { saveAuthorization } from '../../../lib/store/grants.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { faultyDocumentClient } from '../../helpers/faults.ts';

const BUS = 'wechat-component-test';
let table: TestTable;
let bus: LocalEventBus;
let poller: StreamPoller;
let dir: string;
let file: string;
const logger = createMemoryLogger();
const metrics = createMemoryMetrics();
/** What the handler answered, per invocation: how many records came and how many it reported failed. */
const invocations: { records: number; failed: number }[] = [];
let sequence = 0;

const config = () =>
  loadConfig({
    ...simulatorEnv(),
    TABLE_NAME: table.tableName,
    PUBLIC_BASE_URL: 'http://127.0.0.1:1',
    EVENT_BUS_NAME: BUS,
    AWS_ENDPOINT_URL_EVENTBRIDGE: bus.url,
  });
const lines = (): LineOfEvent[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as LineOfEvent)
    : [];
const event = (fields: Record<string, unknown> = {}, appid = 'wx0123456789abcdef'): OutboxEvent => {
  sequence += 1;
  return buildEvent(
    { config: { componentAppId: 'wx5ce1ab0c0ffee000' } },
    { detailType: DetailType.AuthorizerAuthorized, identity: [appid, sequence, Date.now()], occurredAt: Date.now(), authorizerAppid: appid, fields },
  );
};
const write = (e: OutboxEvent) => table.doc.send(new PutCommand(outboxPut(table, e).Put));
const ids = () => lines().map((l) => l.Detail.eventId);

before(async () => {
  table = await createTestTable();
  dir = mkdtempSync(join(tmpdir(), 'events-delivery-'));
  file = join(dir, 'events.jsonl');
  bus = await startEventBus({ busNames: [BUS], file });
  const deps = createEventsDeps(config(), { putEvents: putEventsWith(createEventBridgeClient(config())), logger, metrics });
  const handler = createHandler(deps);
  poller = await startStreamPoller({
    endpoint: table.endpoint,
    tableName: table.tableName,
    settings: { ...streamSettingsFromServerless(undefined, 'events'), maximumRetryAttempts: 3 },
    pollIntervalMs: 25,
    invoke: async (e) => {
      const result = await handler(e as unknown as DynamoDBStreamEvent);
      invocations.push({ records: e.Records.length, failed: result.batchItemFailures.length });
      return result;
    },
  });
});
after(async () => {
  await poller?.stop();
  await bus?.stop();
  await table?.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  invocations.length = 0;
});

describe('events delivery', () => {
  it('reads the events function filter from serverless.yml: inserted OUTBOX items only', () => {
    const settings = streamSettingsFromServerless(undefined, 'events');
    assert.deepEqual(settings.filterPatterns, [{ eventName: ['INSERT'], dynamodb: { Keys: { sk: { S: ['OUTBOX'] } } } }]);
    assert.equal(settings.batchSize, 100);
  });

  it('puts an inserted outbox item on the bus once, with the envelope, and ignores a rewrite of the same id', async () => {
    // Prepare
    const e = event({ funcInfo: [1] });
    // Act
    await write(e);
    await write(e);
    await table.doc.send(new PutCommand({ TableName: table.tableName, Item: { pk: 'EVENT#x', sk: 'EVENT', kind: 'component_push' } }));
    await poller.drain();
    // Assess
    const delivered = lines().filter((l) => l.Detail.eventId === e.eventId);
    assert.equal(delivered.length, 1);
    assert.equal(delivered[0]?.Source, 'wechat.component');
    assert.equal(delivered[0]?.DetailType, 'Authorizer Authorized');
    assert.deepEqual(Object.keys(delivered[0]?.Detail ?? {}).slice(0, 4), ['eventId', 'componentAppId', 'occurredAt', 'authorizerAppid']);
    assert.equal(delivered[0]?.Time, new Date(e.occurredAt).toISOString());
  });

  it('sends 25 items written together in PutEvents calls of at most 10 entries', async () => {
    // Prepare
    const events = Array.from({ length: 25 }, () => event());
    const callsBefore = bus.calls();
    // Act
    for (let i = 0; i < events.length; i += 25) {
      await table.doc.send(new TransactWriteCommand({ TransactItems: events.slice(i, i + 25).map((e) => outboxPut(table, e)) }));
    }
    await poller.drain();
    // Assess
    const delivered = new Set(ids());
    assert.ok(events.every((e) => delivered.has(e.eventId)));
    assert.equal(bus.calls() - callsBefore, 3);
  });

  it('splits by size so no call carries more than 256 KB, and drops an item that could never fit, with an error', async () => {
    // Prepare
    const big = Array.from({ length: 4 }, () => event({ padding: 'x'.repeat(100 * 1024) }));
    const huge = event({ padding: 'y'.repeat(300 * 1024) });
    const callsBefore = bus.calls();
    // Act
    for (const e of [...big.slice(0, 2), huge, ...big.slice(2)]) await write(e);
    await poller.drain();
    // Assess
    const delivered = new Set(ids());
    assert.ok(big.every((e) => delivered.has(e.eventId)));
    assert.ok(!delivered.has(huge.eventId));
    assert.ok(bus.calls() - callsBefore >= 2);
    assert.ok(logger.records().some((r) => r.event === 'events.dropped' && r.eventId === huge.eventId && r.level === 'error'));
    assert.ok(metrics.documents().some((d) => d.EventsUndeliverable === 1));
  });

  it('reports entries the bus refused and delivers them, once, when the stream retries', async () => {
    // Prepare
    bus.fail({ mode: 'entries', times: 1 });
    const events = [event(), event(), event()];
    // Act
    for (const e of events) await write(e);
    await poller.drain();
    // Assess
    assert.equal(invocations[0]?.failed, invocations[0]?.records, 'every refused entry is reported');
    assert.ok(invocations.length >= 2);
    for (const e of events) assert.equal(ids().filter((id) => id === e.eventId).length, 1);
    assert.ok(logger.records().some((r) => r.event === 'events.entry_failed' && r.failure === 'InternalFailure'));
  });

  it('rides out a bus that is down for longer than the client retries: the batch comes again and is delivered', async () => {
    // Prepare: three 503s exhaust the client's three attempts once.
    bus.fail({ mode: 'unavailable', times: 3 });
    const e = event();
    // Act
    await write(e);
    await poller.drain();
    // Assess
    assert.deepEqual(
      invocations.map((i) => i.failed),
      [1, 0],
    );
    assert.equal(ids().filter((id) => id === e.eventId).length, 1);
    assert.ok(logger.records().some((r) => r.event === 'events.put_failed'));
  });

  it('drops a malformed outbox item with an error and still delivers the good ones around it', async () => {
    // Prepare
    const good = [event(), event()];
    // Act
    await write(good[0]!);
    await table.doc.send(
      new PutCommand({ TableName: table.tableName, Item: { pk: 'OUTBOX#broken', sk: 'OUTBOX', eventId: 'broken', detail: 'not an object' } }),
    );
    await write(good[1]!);
    await poller.drain();
    // Assess
    const delivered = new Set(ids());
    assert.ok(good.every((e) => delivered.has(e.eventId)));
    assert.ok(logger.records().some((r) => r.event === 'events.dropped' && r.eventId === 'broken'));
    assert.ok(invocations.every((i) => i.failed === 0));
  });

  it('never delivers an event whose state change failed, and delivers it once when the change is retried', async () => {
    // Prepare: a stored grant, and a DynamoDB client whose next transaction fails as throttling that outlasted the SDK.
    const faulty = faultyDocumentClient(table.endpoint);
    const store = { doc: faulty.doc, tableName: table.tableName, clock: Date.now };
    const appid = 'wx00000000000fa117';
    await saveAuthorization(store, appid, { refreshToken: 'refreshtoken@@@crash', funcInfo: [1], authorizedAt: 1_700_000_000 });
    const announce = unauthorizedEvents({ config: { componentAppId: 'wx5ce1ab0c0ffee000' }, clock: Date.now }, 'push', 1_700_000_100_000);
    faulty.inject({ match: (c) => c.command === 'TransactWriteItemsCommand' });
    // Act
    const failed = await markUnauthorized(store, appid, 1_700_000_100, announce).catch((e: Error) => e.name);
    await poller.drain();
    const afterFailure = lines().filter((l) => l.Detail.authorizerAppid === appid);
    const statusAfterFailure = (await getAuthorizer(store, appid))?.status;
    const retried = await markUnauthorized(store, appid, 1_700_000_100, announce);
    await poller.drain();
    faulty.close();
    // Assess
    assert.equal(failed, 'ProvisionedThroughputExceededException');
    assert.deepEqual([afterFailure, statusAfterFailure], [[], 'authorized'], 'no event without its change');
    assert.equal(retried, 'unauthorized');
    const delivered = lines().filter((l) => l.Detail.authorizerAppid === appid);
    assert.deepEqual(
      delivered.map((l) => [l.DetailType, l.Detail.detectedBy]),
      [['Authorizer Unauthorized', 'push']],
    );
  });
});
