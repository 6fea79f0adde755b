import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SSMClient, SSMClientConfig } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { systemClock, type Clock } from '../kernel/clock.ts';
import {
  DYNAMODB_CONNECT_MS,
  DYNAMODB_MAX_ATTEMPTS,
  DYNAMODB_PUSH_CONNECT_MS,
  DYNAMODB_PUSH_REQUEST_MS,
  DYNAMODB_REQUEST_MS,
  SSM_CONNECT_MS,
  SSM_MAX_ATTEMPTS,
  SSM_REQUEST_MS,
} from '../kernel/limits.ts';
import type { ComponentSecrets, Config } from './config.ts';
import { localEndpointOptions } from './endpoints.ts';
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

/** How long one DynamoDB call may take: attempts, and the bound on each (connect, and silence on the socket). */
export interface DynamoBudget {
  readonly maxAttempts: number;
  readonly connectionTimeoutMs: number;
  readonly requestTimeoutMs: number;
}

/** The functions that call WeChat: a stuck socket fails after 5 s and is retried, never holds a lease past its end. */
export const DEFAULT_DYNAMODB_BUDGET: DynamoBudget = {
  maxAttempts: DYNAMODB_MAX_ATTEMPTS,
  connectionTimeoutMs: DYNAMODB_CONNECT_MS,
  requestTimeoutMs: DYNAMODB_REQUEST_MS,
};

/**
 * The push paths (`ticket`, `message`), which WeChat gives 5 s for an answer: one stuck attempt costs 1 s and is
 * retried, so one call with every attempt stuck still fails (a 500 WeChat retries) in about 3.3 s, not 15 s.
 * DynamoDB answers in milliseconds; a second is ample for a healthy attempt.
 */
export const PUSH_DYNAMODB_BUDGET: DynamoBudget = {
  maxAttempts: DYNAMODB_MAX_ATTEMPTS,
  connectionTimeoutMs: DYNAMODB_PUSH_CONNECT_MS,
  requestTimeoutMs: DYNAMODB_PUSH_REQUEST_MS,
};

/**
 * The only place that constructs the DynamoDB client. Locally the endpoint is DynamoDB Local; scripts that
 * pass only the endpoint get the local region and placeholder credentials.
 */
export const createDocumentClient = (
  config: Pick<Config, 'dynamodbEndpoint'> & Partial<Pick<Config, 'awsRegion' | 'awsCredentialsInEnv'>>,
  budget: DynamoBudget = DEFAULT_DYNAMODB_BUDGET,
): DynamoDBDocumentClient => {
  const client = new DynamoDBClient({
    ...localEndpointOptions(config.dynamodbEndpoint, config.awsRegion, config.awsCredentialsInEnv ?? false),
    maxAttempts: budget.maxAttempts,
    // throwOnRequestTimeout: without it the handler only logs a warning when requestTimeout passes and waits on.
    requestHandler: { connectionTimeout: budget.connectionTimeoutMs, requestTimeout: budget.requestTimeoutMs, throwOnRequestTimeout: true },
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
};

/**
 * The SSM client that reads the SecureStrings (lib/runtime/ssm-secrets.ts). Only this module constructs clients, so the
 * secrets source receives this function and calls it on its first fetch; the SDK is imported here on that call,
 * never at module load, so local runs and tests (secrets in the environment) pay nothing for it.
 */
export const createSsmClient = async (options: Pick<SSMClientConfig, 'endpoint' | 'region' | 'credentials'> = {}): Promise<SSMClient> => {
  const { SSMClient } = await import('./ssm-sdk.ts');
  return new SSMClient({
    ...options,
    maxAttempts: SSM_MAX_ATTEMPTS,
    requestHandler: { connectionTimeout: SSM_CONNECT_MS, requestTimeout: SSM_REQUEST_MS, throwOnRequestTimeout: true },
  });
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

/** createDeps for the push paths: the DynamoDB client on PUSH_DYNAMODB_BUDGET. */
export const createPushDeps = (config: Config, secrets: ComponentSecrets, overrides: DepsOverrides = {}): Deps =>
  createDeps(config, secrets, { doc: createDocumentClient(config, PUSH_DYNAMODB_BUDGET), ...overrides });
