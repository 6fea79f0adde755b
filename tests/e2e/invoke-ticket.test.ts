import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ensureTable } from '../../infra/local/dynamodb.ts';
import { useDynamoEndpoint, type DynamoEndpoint } from '../helpers/dynamo.ts';
import { invokeLocal, localInvokeEnv } from '../helpers/sls.ts';

// The table name serverless computes for stage dev: provider.environment overrides the shell's TABLE_NAME.
const TABLE = 'wechat-component-dev';

describe('sls invoke local -f ticket', () => {
  let dynamo: DynamoEndpoint | undefined;
  let endpoint: string;

  before(async () => {
    dynamo = await useDynamoEndpoint();
    endpoint = dynamo.endpoint;
    await ensureTable(endpoint, TABLE);
  });
  after(async () => {
    await dynamo?.stop();
  });

  it('answers success to the recorded ticket push and stores the ticket', async () => {
    // Act
    const { code, output } = await invokeLocal('ticket', ['--path', 'tests/events/ticket.json'], localInvokeEnv({ DYNAMODB_ENDPOINT: endpoint }));
    // Assess
    assert.equal(code, 0, output);
    assert.match(output, /"statusCode": 200/);
    assert.match(output, /"body": "success"/);
    assert.match(output, /verify_ticket\.(saved|stale)/);
    assert.ok(!output.includes('local-sample-ticket-0001'), 'the ticket reached the output');
    // No read-back of the item: once the sample is 12 h old, DynamoDB Local's TTL deletes it within seconds.
  });
});
