// Stream consumer of the table: EVENT items (authorization events from `ticket`, release-test tasks from
// `message`) in batches, reported back with ReportBatchItemFailures (serverless.yml).
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { createWeChatDeps, type WeChatDeps } from '../../lib/runtime/wechat-deps.ts';
import { lambda } from '../../lib/runtime/lambda.ts';
import { applyAuthorizationPush } from '../../lib/authorization/pushes.ts';
import { processEventRecords, type EventHandlers, type EventRecord } from '../../lib/stream/dispatch.ts';
import { handleReleaseTestTask } from '../../lib/release-test/task.ts';
import { applyAuditResult } from '../../lib/fleet/audit-results.ts';

/** The dispatch point: one handler per EVENT kind. `release_test_task` plugs in here (issue 6). */
const EVENT_HANDLERS: EventHandlers<WeChatDeps> = {
  component_push: applyAuthorizationPush,
  release_test_task: handleReleaseTestTask,
  audit_result: applyAuditResult,
};

type Image = Parameters<typeof unmarshall>[0];

const toEventRecord = (record: DynamoDBRecord): EventRecord => {
  const sequenceNumber = record.dynamodb?.SequenceNumber ?? record.eventID ?? '';
  try {
    const raw = record.dynamodb?.NewImage;
    return { sequenceNumber, image: raw ? unmarshall(raw as Image) : undefined };
  } catch {
    // An image that does not unmarshal is dropped as malformed by the dispatcher.
    return { sequenceNumber, image: undefined };
  }
};

export const createHandler =
  (deps: WeChatDeps, handlers: EventHandlers<WeChatDeps> = EVENT_HANDLERS) =>
  async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> =>
    processEventRecords(deps, handlers, (event.Records ?? []).map(toEventRecord));

export const handler = lambda(createWeChatDeps, createHandler);
