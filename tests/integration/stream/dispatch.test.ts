// The stream dispatch's edges against DynamoDB Local: the deadline (no record started too close to the Lambda
// timeout) and the one case a record is reported back to the stream (its failure could not be stored), with the
// records after it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryLogger } from '../../../lib/kernel/logger.ts';
import { createMemoryMetrics } from '../../../lib/kernel/metrics.ts';
import { eventId, type StoredEvent } from '../../../lib/store/events.ts';
import { getFailure } from '../../../lib/store/failures.ts';
import { processEventRecords, RECORD_BUDGET_MS, type EventHandlers } from '../../../lib/stream/dispatch.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { faultyDocumentClient, type FaultyDocumentClient } from '../../helpers/faults.ts';

const NOW = Date.now();
let table: TestTable;
let ddb: FaultyDocumentClient;
const logger = createMemoryLogger();
const metrics = createMemoryMetrics(() => NOW);
const deps = () => ({ doc: ddb.doc, tableName: table.tableName, clock: () => NOW, logger, metrics });

const record = (seq: string, infoType: string) => {
  const e = {
    kind: 'component_push' as const,
    infoType,
    componentAppId: 'wx5ce1ab0c0ffee000',
    createTime: Math.floor(NOW / 1000) + Number(seq),
    payload: {},
  };
  const event: StoredEvent = { ...e, id: eventId(e), receivedAt: Math.floor(NOW / 1000) };
  return { sequenceNumber: seq, image: { pk: `EVENT#${event.id}`, sk: 'EVENT', ...event }, id: event.id };
};

before(async () => {
  table = await createTestTable();
  ddb = faultyDocumentClient(table.endpoint);
});
after(async () => {
  ddb.close();
  await table.close();
});

describe('dispatch.processEventRecords at its edges', () => {
  it('starts no record with RECORD_BUDGET_MS or less left, and reports the ones it did not start', async () => {
    // Prepare
    const seen: string[] = [];
    const handlers: EventHandlers<unknown> = { component_push: async (_d, e) => void seen.push(e.infoType) };
    let left = RECORD_BUDGET_MS + 5_000;
    // Act
    const result = await processEventRecords(deps(), handlers, [record('1', 'a'), record('2', 'b'), record('3', 'c')], {
      timeLeftMs: () => {
        const now = left;
        left -= 5_000;
        return now;
      },
    });
    // Assess
    assert.deepEqual(seen, ['a']);
    assert.deepEqual(result.batchItemFailures, [{ itemIdentifier: '2' }, { itemIdentifier: '3' }]);
  });

  it('reports a record back to the stream only when its failure could not be stored', async () => {
    // Prepare
    const handlers: EventHandlers<unknown> = {
      component_push: async () => {
        throw new Error('WeChat is down');
      },
    };
    const [stored, lost] = [record('4', 'x'), record('5', 'y')];
    const fault = ddb.inject({ match: (call) => call.write && call.pks.includes(`FAILURE#${lost.id}`), times: Infinity });
    // Act
    const result = await processEventRecords(deps(), handlers, [stored, lost]);
    ddb.clearFaults();
    // Assess
    assert.ok(fault.fired() >= 1);
    assert.deepEqual(result.batchItemFailures, [{ itemIdentifier: '5' }]);
    assert.equal((await getFailure(deps(), stored.id))?.state, 'retrying');
    assert.equal(await getFailure(deps(), lost.id), undefined);
    assert.ok(logger.records().some((r) => r.event === 'event.failure_not_recorded' && r.eventId === lost.id));
  });

  it('starts nothing after a record it must report, and reports the rest with it (Lambda redelivers them all anyway)', async () => {
    // Prepare
    const seen: string[] = [];
    const handlers: EventHandlers<unknown> = {
      component_push: async (_d, e) => {
        seen.push(e.infoType);
        if (e.infoType === 'p') throw new Error('WeChat is down');
      },
    };
    const [lost, after1, after2] = [record('7', 'p'), record('8', 'q'), record('9', 'r')];
    const fault = ddb.inject({ match: (call) => call.write && call.pks.includes(`FAILURE#${lost.id}`), times: Infinity });
    // Act
    const result = await processEventRecords(deps(), handlers, [lost, after1, after2]);
    ddb.clearFaults();
    // Assess
    assert.ok(fault.fired() >= 1);
    assert.deepEqual(seen, ['p']);
    assert.deepEqual(result.batchItemFailures, [{ itemIdentifier: '7' }, { itemIdentifier: '8' }, { itemIdentifier: '9' }]);
  });

  it('drops a record that is no event at all, counted as StreamEventDropped (malformed), without reporting it', async () => {
    // Act
    const result = await processEventRecords(deps(), {}, [{ sequenceNumber: '6', image: { pk: 'EVENT#z', sk: 'EVENT', kind: 'weird' } }]);
    // Assess
    assert.deepEqual(result.batchItemFailures, []);
    assert.equal(metrics.sum('StreamEventDropped', { Kind: 'malformed' }), 1);
  });
});
