import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { simulatorEnv } from '../../infra/local/credentials.ts';
import { ensureTable, startDynamoLocal, type DynamoLocal } from '../../infra/local/dynamodb.ts';
import { startProc, type Proc } from '../helpers/proc.ts';

// The table name serverless computes for stage dev: provider.environment overrides the shell's TABLE_NAME.
const TABLE = 'wechat-component-dev';
const TIMEOUT_MS = 45_000;

describe('sls invoke local -f ticket', () => {
  let own: DynamoLocal | undefined;
  let endpoint: string;
  let proc: Proc | undefined;

  before(async () => {
    endpoint = process.env.TEST_DYNAMODB_ENDPOINT ?? '';
    if (!endpoint) {
      own = await startDynamoLocal();
      endpoint = own.endpoint;
    }
    await ensureTable(endpoint, TABLE);
  });
  after(async () => {
    await proc?.stop(2000);
    await own?.stop();
  });

  it('answers success to the recorded ticket push and stores the ticket', async () => {
    // Prepare
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...simulatorEnv(),
      DYNAMODB_ENDPOINT: endpoint,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_REGION: 'ap-east-1',
    };
    // The sample's timestamp is fixed: the IS_LOCAL default (freshness check off) is what lets it replay.
    delete env.PUSH_MAX_SKEW_S;
    // Act
    proc = startProc(process.execPath, ['node_modules/serverless/bin/serverless.js', 'invoke', 'local', '-f', 'ticket', '--path', 'tests/events/ticket.json'], env);
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sls invoke local did not finish in ${TIMEOUT_MS} ms:\n${proc!.output.join('\n')}`)), TIMEOUT_MS);
      proc!.child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    // Assess
    const output = proc.output.join('\n');
    assert.equal(code, 0, output);
    assert.match(output, /"statusCode": 200/);
    assert.match(output, /"body": "success"/);
    assert.match(output, /verify_ticket\.(saved|stale)/);
    assert.ok(!output.includes('local-sample-ticket-0001'), 'the ticket reached the output');
    // No read-back of the item: once the sample is 12 h old, DynamoDB Local's TTL deletes it within seconds.
  });
});
