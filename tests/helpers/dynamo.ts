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

export interface DynamoEndpoint {
  readonly endpoint: string;
  /** Stops DynamoDB Local when this file started it; the run's own is left running. */
  stop(): Promise<void>;
}

/** The run's DynamoDB Local (TEST_DYNAMODB_ENDPOINT, set by `npm test`), or one of this file's own. */
export const useDynamoEndpoint = async (): Promise<DynamoEndpoint> => {
  const shared = process.env.TEST_DYNAMODB_ENDPOINT;
  if (shared) return { endpoint: shared, stop: async () => undefined };
  const own: DynamoLocal = await startDynamoLocal();
  return { endpoint: own.endpoint, stop: () => own.stop() };
};

export const createTestTable = async (): Promise<TestTable> => {
  const dynamo = await useDynamoEndpoint();
  const { endpoint } = dynamo;
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
      await dynamo.stop();
    },
  };
};
