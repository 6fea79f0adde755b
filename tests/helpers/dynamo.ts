// A fresh table in DynamoDB Local for one test file. `npm test` starts one DynamoDB Local for the run and
// passes its endpoint; a file run on its own (`node --test tests/x.test.ts`) starts its own.
import { randomBytes } from 'node:crypto';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ensureTable, localClient, startDynamoLocal, type DynamoLocal } from '../../infra/local/dynamodb.ts';

export interface TestTable {
  readonly endpoint: string;
  readonly tableName: string;
  readonly doc: DynamoDBDocumentClient;
  /** Deletes the table, and stops DynamoDB Local when this file started it. */
  close(): Promise<void>;
}

export const createTestTable = async (): Promise<TestTable> => {
  let own: DynamoLocal | undefined;
  let endpoint = process.env.TEST_DYNAMODB_ENDPOINT;
  if (!endpoint) {
    own = await startDynamoLocal();
    endpoint = own.endpoint;
  }
  const tableName = `test-${randomBytes(4).toString('hex')}`;
  await ensureTable(endpoint, tableName);
  const client = localClient(endpoint);
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return {
    endpoint,
    tableName,
    doc,
    close: async () => {
      await client.send(new DeleteTableCommand({ TableName: tableName })).catch(() => undefined);
      client.destroy();
      await own?.stop();
    },
  };
};
