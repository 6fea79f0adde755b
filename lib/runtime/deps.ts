import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SSMClient, SSMClientConfig } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { systemClock, type Clock } from '../kernel/clock.ts';
import type { ComponentSecrets, Config } from './config.ts';
import { createLogger, protectSecret, type Logger } from '../kernel/logger.ts';

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
    // A stuck socket must fail and be retried, not hold a push past WeChat's 5 s or a lease past its end.
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 5_000 },
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
};

/**
 * The SSM client that reads the SecureStrings (lib/runtime/ssm-secrets.ts). Only this module constructs clients, so the
 * secrets source receives this function and calls it on its first fetch; the SDK is imported here on that call,
 * never at module load, so local runs and tests (secrets in the environment) pay nothing for it.
 */
export const createSsmClient = async (options: Pick<SSMClientConfig, 'endpoint' | 'region' | 'credentials'> = {}): Promise<SSMClient> => {
  const { SSMClient } = await import('@aws-sdk/client-ssm');
  // Bounded: a cold start of `ticket` must still answer inside WeChat's 5 s.
  return new SSMClient({ ...options, maxAttempts: 3, requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000 } });
};

export const createDeps = (config: Config, secrets: ComponentSecrets, overrides: DepsOverrides = {}): Deps => {
  // Only the held secrets are enumerable (config.ts heldSecrets): reading another one would throw.
  for (const value of Object.values(secrets)) protectSecret(value);
  return {
    doc: overrides.doc ?? createDocumentClient(config),
    tableName: config.tableName,
    clock: overrides.clock ?? systemClock,
    logger: overrides.logger ?? createLogger({ level: config.logLevel }),
    config,
    secrets,
  };
};
