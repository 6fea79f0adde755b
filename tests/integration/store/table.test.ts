import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { cancelledAt, conditionMet } from '../../../lib/store/table.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';

let table: TestTable;
const put = (pk: string) => () =>
  table.doc.send(new PutCommand({ TableName: table.tableName, Item: { pk, sk: 'X' }, ConditionExpression: 'attribute_not_exists(pk)' }));

before(async () => {
  table = await createTestTable();
});
after(async () => table.close());

describe('conditional.conditionMet', () => {
  it('reports true for an applied write and false for one whose condition failed', async () => {
    // Act
    const first = await conditionMet(put('COND#1'));
    const second = await conditionMet(put('COND#1'));
    // Assess
    assert.deepEqual([first, second], [true, false]);
  });

  it('lets any other failure through', async () => {
    // Act
    const attempt = conditionMet(() => table.doc.send(new PutCommand({ TableName: 'no-such-table', Item: { pk: 'COND#2', sk: 'X' } })));
    // Assess
    await assert.rejects(attempt, (e: unknown) => (e as Error).name === 'ResourceNotFoundException');
  });
});

describe('conditional.cancelledAt', () => {
  it('names the transaction items whose condition failed, and nothing for other errors', async () => {
    // Prepare
    await put('COND#3')();
    const item = (pk: string) => ({ Put: { TableName: table.tableName, Item: { pk, sk: 'X' }, ConditionExpression: 'attribute_not_exists(pk)' } });
    // Act
    const error = await table.doc.send(new TransactWriteCommand({ TransactItems: [item('COND#4'), item('COND#3')] })).catch((e: unknown) => e);
    // Assess
    assert.deepEqual(cancelledAt(error), [1]);
    assert.deepEqual(cancelledAt(new Error('other')), []);
  });
});
