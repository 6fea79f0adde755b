import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { systemClock, type Clock } from './clock.ts';
import type { ComponentSecrets, Config } from './config.ts';
import { createLogger, protectSecret, type Logger } from './logger.ts';

/** What every service receives. Tests build it with DynamoDB Local, a fixed clock and a memory logger. */
export interface Deps {
  readonly doc: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly config: Config;
  readonly secrets: ComponentSecrets;
}

export interface DepsOverrides {
  doc?: DynamoDBDocumentClient;
  clock?: Clock;
  logger?: Logger;
}

/** The only place that constructs the DynamoDB client. Locally the endpoint is DynamoDB Local. */
export const createDocumentClient = (config: Pick<Config, 'dynamodbEndpoint'>, env = process.env): DynamoDBDocumentClient => {
  const local = config.dynamodbEndpoint !== undefined;
  const client = new DynamoDBClient({
    ...(local ? { endpoint: config.dynamodbEndpoint, region: env.AWS_REGION ?? 'local' } : {}),
    // DynamoDB Local accepts any [A-Za-z0-9] key; sparing newcomers a credentials step when none is set.
    ...(local && !env.AWS_ACCESS_KEY_ID ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    maxAttempts: 3,
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
};

export const createDeps = (config: Config, secrets: ComponentSecrets, overrides: DepsOverrides = {}): Deps => {
  protectSecret(secrets.appSecret);
  protectSecret(secrets.token);
  protectSecret(secrets.encodingAesKey);
  return {
    doc: overrides.doc ?? createDocumentClient(config),
    tableName: config.tableName,
    clock: overrides.clock ?? systemClock,
    logger: overrides.logger ?? createLogger({ level: config.logLevel }),
    config,
    secrets,
  };
};
