// Mini-program rollouts (docs/fleet.md): account items of rollouts from the table's stream, one step each
// (ReportBatchItemFailures for the records the table failed), and every minute a sweep that wakes what is due
// and completes what is settled (serverless.yml).
import type { DynamoDBBatchResponse, DynamoDBStreamEvent, ScheduledEvent } from 'aws-lambda';
import { createWeChatDeps, type WeChatDeps } from '../../lib/runtime/wechat-deps.ts';
import { lambda } from '../../lib/runtime/lambda.ts';
import { imageRecords } from '../../lib/runtime/stream-records.ts';
import { processRolloutRecords } from '../../lib/fleet/records.ts';
import { sweepRollouts, type SweepReport } from '../../lib/fleet/sweep.ts';

export const createHandler =
  (deps: WeChatDeps) =>
  async (event: DynamoDBStreamEvent | ScheduledEvent): Promise<DynamoDBBatchResponse | SweepReport> =>
    'Records' in event ? processRolloutRecords(deps, imageRecords(event)) : sweepRollouts(deps);

export const handler = lambda(createWeChatDeps, createHandler);
