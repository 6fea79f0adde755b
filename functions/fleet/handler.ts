// Mini-program rollouts (docs/fleet.md): account items of rollouts from the table's stream, one step each
// (ReportBatchItemFailures for the records the table failed), and every minute a sweep that wakes what is due
// and completes what is settled (serverless.yml).
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent, ScheduledEvent } from 'aws-lambda';
import { createWeChatDeps, type WeChatDeps } from '../../lib/runtime/wechat-deps.ts';
import { lambda } from '../../lib/runtime/lambda.ts';
import { processRolloutRecords, type RolloutRecord } from '../../lib/fleet/records.ts';
import { sweepRollouts, type SweepReport } from '../../lib/fleet/sweep.ts';

type Image = Parameters<typeof unmarshall>[0];

const toRecord = (record: DynamoDBRecord): RolloutRecord => {
  const sequenceNumber = record.dynamodb?.SequenceNumber ?? record.eventID ?? '';
  try {
    const raw = record.dynamodb?.NewImage;
    return { sequenceNumber, image: raw ? unmarshall(raw as Image) : undefined };
  } catch {
    return { sequenceNumber, image: undefined };
  }
};

export const createHandler =
  (deps: WeChatDeps) =>
  async (event: DynamoDBStreamEvent | ScheduledEvent): Promise<DynamoDBBatchResponse | SweepReport> =>
    'Records' in event ? processRolloutRecords(deps, (event.Records ?? []).map(toRecord)) : sweepRollouts(deps);

export const handler = lambda(createWeChatDeps, createHandler);
