// The local event bus answers the real @aws-sdk/client-eventbridge as EventBridge would: request limits as
// ValidationException, entry problems per entry (FailedEntryCount), and only accepted entries in the file.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { startEventBus, type LocalEventBus } from '../../../infra/local/event-bus.ts';

const BUS = 'wechat-component-test';
let bus: LocalEventBus;
let client: EventBridgeClient;
let dir: string;
let file: string;
const printed: string[] = [];

const entry = (overrides: Partial<PutEventsRequestEntry> = {}): PutEventsRequestEntry => ({
  EventBusName: BUS,
  Source: 'wechat.component',
  DetailType: 'Authorizer Authorized',
  Detail: JSON.stringify({ eventId: 'e1', authorizerAppid: 'wx0123456789abcdef', tenant: 't1' }),
  Time: new Date('2025-06-01T08:30:00Z'),
  ...overrides,
});
const put = (entries: PutEventsRequestEntry[]) => client.send(new PutEventsCommand({ Entries: entries }));
const fileLines = () => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'event-bus-'));
  file = join(dir, 'nested', 'events.jsonl');
  bus = await startEventBus({ busNames: [BUS], file, log: (line) => printed.push(line) });
  client = new EventBridgeClient({
    endpoint: bus.url,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
});
after(async () => {
  client?.destroy();
  await bus?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('local event bus', () => {
  it('accepts a PutEvents from the real client, prints the entry and appends exactly Source, DetailType, Detail and Time', async () => {
    // Act
    const answer = await put([entry()]);
    // Assess
    assert.equal(answer.FailedEntryCount, 0);
    assert.match(answer.Entries?.[0]?.EventId ?? '', /^[0-9a-f-]{36}$/);
    const [line] = fileLines();
    assert.deepEqual(JSON.parse(line ?? '{}'), {
      Source: 'wechat.component',
      DetailType: 'Authorizer Authorized',
      Detail: { eventId: 'e1', authorizerAppid: 'wx0123456789abcdef', tenant: 't1' },
      Time: '2025-06-01T08:30:00.000Z',
    });
    assert.ok(printed.some((l) => l.includes('Authorizer Authorized') && l.includes('wx0123456789abcdef') && l.includes('tenant=t1')));
  });

  it('refuses a request of no entries or more than ten, or over 256 KB in all, as a ValidationException that writes nothing', async () => {
    // Prepare
    const before = fileLines().length;
    const quarter = JSON.stringify({ pad: 'x'.repeat(65 * 1024) });
    // Act
    const outcomes = await Promise.all(
      [[], Array.from({ length: 11 }, () => entry()), Array.from({ length: 4 }, () => entry({ Detail: quarter }))].map((entries) =>
        put(entries).then(
          () => 'accepted',
          (e: Error) => e.name,
        ),
      ),
    );
    // Assess
    assert.deepEqual(outcomes, ['ValidationException', 'ValidationException', 'ValidationException']);
    assert.equal(fileLines().length, before);
  });

  it('refuses entries one by one: missing Source, DetailType or Detail, a Detail that is not a JSON object, an unknown bus', async () => {
    // Prepare
    const before = fileLines().length;
    // Act
    const answer = await put([
      entry({ Source: undefined }),
      entry({ DetailType: undefined }),
      entry({ Detail: undefined }),
      entry({ Detail: '[1,2]' }),
      entry({ Detail: '{not json' }),
      entry({ EventBusName: 'someone-elses-bus' }),
      entry({ DetailType: 'Authorizer Updated' }),
    ]);
    // Assess
    assert.equal(answer.FailedEntryCount, 6);
    assert.deepEqual(
      answer.Entries?.map((e) => e.ErrorCode ?? 'ok'),
      ['InvalidArgument', 'InvalidArgument', 'InvalidArgument', 'MalformedDetail', 'MalformedDetail', 'ResourceNotFoundException', 'ok'],
    );
    assert.equal(fileLines().length, before + 1);
    assert.equal(JSON.parse(fileLines().at(-1) ?? '{}').DetailType, 'Authorizer Updated');
  });

  it('fails the next calls on request (per entry, or the whole service), then accepts again', async () => {
    // Prepare
    bus.fail({ mode: 'entries', times: 1 });
    bus.fail({ mode: 'unavailable', times: 1 });
    // Act
    const refused = await put([entry(), entry()]);
    const unavailable = await put([entry()]).catch((e: Error) => e.name);
    const accepted = await put([entry()]);
    // Assess
    assert.deepEqual(
      refused.Entries?.map((e) => e.ErrorCode),
      ['InternalFailure', 'InternalFailure'],
    );
    assert.equal(refused.FailedEntryCount, 2);
    assert.equal(unavailable, 'ServiceUnavailableException');
    assert.equal(accepted.FailedEntryCount, 0);
  });

  it('answers only PutEvents', async () => {
    // Act
    const response = await fetch(bus.url, {
      method: 'POST',
      headers: { 'x-amz-target': 'AWSEvents.ListRules', 'content-type': 'application/x-amz-json-1.1' },
      body: '{}',
    });
    // Assess
    assert.equal(response.status, 400);
    assert.equal(response.headers.get('x-amzn-errortype'), 'UnknownOperationException');
  });
});
