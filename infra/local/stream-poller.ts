// Feeds the table's stream to a function the way Lambda's event source mapping does (one poller per function
// with a stream event, each reading the whole stream on its own, as each mapping does in AWS):
// the filter and batch size declared in serverless.yml, Lambda's DynamoDB stream event shape, and partial
// batch failures retried from the first failed record (ReportBatchItemFailures), a bounded number of times.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import { parse } from 'yaml';
import { localClient } from './dynamodb.ts';

export type FilterPattern = Record<string, unknown>;
export interface StreamEvent {
  Records: Record<string, unknown>[];
}
export type Invoke = (event: StreamEvent, signal: AbortSignal) => Promise<{ batchItemFailures?: { itemIdentifier: string }[] } | undefined>;

export interface StreamSettings {
  filterPatterns: FilterPattern[];
  batchSize: number;
  maximumRetryAttempts: number;
}

const SERVERLESS_YML = fileURLToPath(new URL('../../serverless.yml', import.meta.url));

type ServerlessFunctions = Record<string, { events?: { stream?: Record<string, unknown> }[] }>;
const readFunctions = (file: string): ServerlessFunctions =>
  (parse(readFileSync(file, 'utf8'), { logLevel: 'silent' }) as { functions: ServerlessFunctions }).functions;

/** The functions serverless.yml gives a stream event (`authorized`, `events`): each gets its own poller. */
export const streamConsumersFromServerless = (file = SERVERLESS_YML): string[] =>
  Object.entries(readFunctions(file))
    .filter(([, fn]) => fn.events?.some((e) => e.stream))
    .map(([name]) => name);

/** Reads a function's stream settings from serverless.yml: one source of truth. */
export const streamSettingsFromServerless = (file = SERVERLESS_YML, fn = 'authorized'): StreamSettings => {
  const doc = { functions: readFunctions(file) };
  const stream = doc.functions[fn]?.events?.find((e) => e.stream)?.stream;
  if (!stream) throw new Error(`serverless.yml declares no stream event on ${fn}`);
  return {
    filterPatterns: (stream.filterPatterns as FilterPattern[] | undefined) ?? [],
    batchSize: Number(stream.batchSize ?? 100),
    maximumRetryAttempts: Number(stream.maximumRetryAttempts ?? 10),
  };
};

/** Lambda event filtering for the subset we declare: nested objects of value lists (exact match or `{prefix}`). */
export const matchesPattern = (pattern: unknown, value: unknown): boolean => {
  if (Array.isArray(pattern)) return pattern.some((candidate) => candidate === value || matchesPrefix(candidate, value));
  if (pattern && typeof pattern === 'object') {
    if (!value || typeof value !== 'object') return false;
    return Object.entries(pattern).every(([key, sub]) => matchesPattern(sub, (value as Record<string, unknown>)[key]));
  }
  return pattern === value;
};

const matchesPrefix = (candidate: unknown, value: unknown): boolean => {
  const prefix = (candidate as { prefix?: unknown } | null)?.prefix;
  return typeof prefix === 'string' && typeof value === 'string' && value.startsWith(prefix);
};

export const matchesAny = (patterns: FilterPattern[], record: Record<string, unknown>): boolean =>
  patterns.length === 0 || patterns.some((p) => matchesPattern(p, record));

const toLambdaRecord = (record: StreamRecord, streamArn: string): Record<string, unknown> => ({
  eventID: record.eventID,
  eventName: record.eventName,
  eventVersion: record.eventVersion ?? '1.1',
  eventSource: 'aws:dynamodb',
  awsRegion: record.awsRegion ?? 'local',
  dynamodb: {
    ...record.dynamodb,
    ApproximateCreationDateTime: record.dynamodb?.ApproximateCreationDateTime
      ? Math.floor(new Date(record.dynamodb.ApproximateCreationDateTime).getTime() / 1000)
      : undefined,
  },
  eventSourceARN: streamArn,
});

export interface PollerOptions {
  endpoint: string;
  tableName: string;
  invoke: Invoke;
  settings?: StreamSettings;
  pollIntervalMs?: number;
  log?: (line: string) => void;
}

export interface StreamPoller {
  /** Resolves once every record written so far has been handed over (or given up on). */
  drain(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export const startStreamPoller = async (options: PollerOptions): Promise<StreamPoller> => {
  const settings = options.settings ?? streamSettingsFromServerless();
  const log = options.log ?? (() => undefined);
  const table = localClient(options.endpoint);
  const description = await table.send(new DescribeTableCommand({ TableName: options.tableName }));
  table.destroy();
  const streamArn = description.Table?.LatestStreamArn;
  if (!streamArn) throw new Error(`table ${options.tableName} has no stream`);
  const streams = new DynamoDBStreamsClient({
    endpoint: options.endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const iterators = new Map<string, string | undefined>();
  let stopped = false;
  const aborter = new AbortController();
  // A drain waits for an idle poll that started after the drain was asked for.
  let pollsStarted = 0;
  let lastIdlePoll = -1;

  const discoverShards = async () => {
    const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    for (const shard of StreamDescription?.Shards ?? []) {
      if (!shard.ShardId || iterators.has(shard.ShardId)) continue;
      const { ShardIterator } = await streams.send(
        new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }),
      );
      iterators.set(shard.ShardId, ShardIterator);
    }
  };

  const deliver = async (batch: Record<string, unknown>[]) => {
    let pending = batch;
    // Once stopping, nothing is retried: what was not delivered stays in the stream, as with Lambda.
    for (let attempt = 0; pending.length > 0 && !stopped; attempt += 1) {
      let failedFrom = -1;
      try {
        const result = await options.invoke({ Records: pending }, aborter.signal);
        const failed = new Set((result?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
        failedFrom = pending.findIndex((r) => failed.has(String((r.dynamodb as { SequenceNumber?: string }).SequenceNumber)));
      } catch (error) {
        log(`stream: invoke failed (${(error as Error).message})`);
        failedFrom = 0;
      }
      if (failedFrom < 0) return;
      if (attempt >= settings.maximumRetryAttempts) {
        log(`stream: ${pending.length - failedFrom} record(s) given up after ${attempt + 1} attempts (the on-failure destination in AWS)`);
        return;
      }
      pending = pending.slice(failedFrom);
      log(`stream: retrying ${pending.length} record(s) from the first failure (attempt ${attempt + 2})`);
      await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** attempt, 2000)));
    }
  };

  const pollOnce = async (): Promise<boolean> => {
    await discoverShards();
    let sawRecords = false;
    for (const [shardId, iterator] of iterators) {
      if (!iterator) continue;
      const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      iterators.set(shardId, page.NextShardIterator);
      const records = (page.Records ?? []).map((r) => toLambdaRecord(r, streamArn)).filter((r) => matchesAny(settings.filterPatterns, r));
      if ((page.Records ?? []).length > 0) sawRecords = true;
      for (let i = 0; i < records.length && !stopped; i += settings.batchSize) await deliver(records.slice(i, i + settings.batchSize));
    }
    return sawRecords;
  };

  const loop = (async () => {
    while (!stopped) {
      const poll = (pollsStarted += 1);
      try {
        if (!(await pollOnce())) lastIdlePoll = poll;
      } catch (error) {
        if (!stopped) log(`stream: poll failed (${(error as Error).message})`);
      }
      if (!stopped) await new Promise((r) => setTimeout(r, options.pollIntervalMs ?? 250));
    }
  })();

  return {
    drain: async (timeoutMs = 15_000) => {
      const deadline = Date.now() + timeoutMs;
      const after = pollsStarted;
      while (lastIdlePoll <= after) {
        if (Date.now() > deadline) throw new Error('stream poller did not drain in time');
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop: async () => {
      stopped = true;
      aborter.abort();
      await loop;
      streams.destroy();
    },
  };
};
