import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { matchesAny, startStreamPoller, streamSettingsFromServerless, type StreamEvent } from '../../../infra/local/stream-poller.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';

describe('local stream poller', () => {
  let table: TestTable;
  before(async () => {
    table = await createTestTable();
  });
  after(async () => {
    await table.close();
  });

  it('reads the authorized function filter and batch settings from serverless.yml', () => {
    const settings = streamSettingsFromServerless();
    assert.equal(settings.batchSize, 10);
    assert.ok(settings.maximumRetryAttempts > 0);
    assert.ok(matchesAny(settings.filterPatterns, { eventName: 'INSERT', dynamodb: { Keys: { sk: { S: 'EVENT' } } } }));
    assert.ok(!matchesAny(settings.filterPatterns, { eventName: 'MODIFY', dynamodb: { Keys: { sk: { S: 'EVENT' } } } }));
    assert.ok(!matchesAny(settings.filterPatterns, { eventName: 'INSERT', dynamodb: { Keys: { sk: { S: 'TICKET' } } } }));
  });

  it('reads the fleet function filter, matching rollout account items by sort-key prefix on insert and modify', () => {
    const settings = streamSettingsFromServerless(undefined, 'fleet');
    const record = (eventName: string, sk: string) => ({ eventName, dynamodb: { Keys: { sk: { S: sk } } } });
    assert.equal(settings.batchSize, 100);
    assert.ok(matchesAny(settings.filterPatterns, record('INSERT', 'ACCOUNT#wx1111222233334444')));
    assert.ok(matchesAny(settings.filterPatterns, record('MODIFY', 'ACCOUNT#wx1111222233334444')));
    assert.ok(!matchesAny(settings.filterPatterns, record('MODIFY', 'ROLLOUT')));
    assert.ok(!matchesAny(settings.filterPatterns, record('INSERT', 'EVENT')));
  });

  it('delivers only inserted event items, in Lambda stream shape, and retries from the first reported failure', async () => {
    // Prepare
    const batches: StreamEvent[] = [];
    let failOnce = true;
    // Act
    for (const id of ['a', 'b', 'c']) {
      await table.doc.send(new PutCommand({ TableName: table.tableName, Item: { pk: `EVENT#${id}`, sk: 'EVENT', kind: 'component_push' } }));
    }
    await table.doc.send(new PutCommand({ TableName: table.tableName, Item: { pk: 'COMPONENT#wx1', sk: 'TICKET', ticket: 'x' } }));
    await table.doc.send(new PutCommand({ TableName: table.tableName, Item: { pk: 'EVENT#a', sk: 'EVENT', kind: 'changed' } }));
    // The poller starts at TRIM_HORIZON, like the event source mapping, so it sees all writes in one read.
    const poller = await startStreamPoller({
      endpoint: table.endpoint,
      tableName: table.tableName,
      pollIntervalMs: 50,
      invoke: async (event) => {
        batches.push(event);
        const second = event.Records[1] as { dynamodb: { SequenceNumber: string } } | undefined;
        if (failOnce && second) {
          failOnce = false;
          return { batchItemFailures: [{ itemIdentifier: second.dynamodb.SequenceNumber }] };
        }
        return { batchItemFailures: [] };
      },
    });
    await poller.drain();
    await poller.stop();
    // Assess
    const delivered = batches.map((b) => b.Records.map((r) => (r.dynamodb as { Keys: { pk: { S: string } } }).Keys.pk.S));
    assert.deepEqual(delivered, [
      ['EVENT#a', 'EVENT#b', 'EVENT#c'],
      ['EVENT#b', 'EVENT#c'],
    ]);
    const first = batches[0]!.Records[0] as { eventSource: string; eventName: string; dynamodb: { NewImage: { kind: { S: string } } } };
    assert.equal(first.eventSource, 'aws:dynamodb');
    assert.equal(first.eventName, 'INSERT');
    assert.equal(first.dynamodb.NewImage.kind.S, 'component_push');
  });
});
