// The outbox's delivery (docs/events.md): the table's stream, filtered to inserted OUTBOX items
// (serverless.yml), in batches → PutEvents on the platform's bus. Records whose entries were not accepted are
// reported back (ReportBatchItemFailures) and redelivered with the same eventId; after the retries the
// failure queue holds them.
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { deliverOutboxRecords } from '../../lib/events/delivery.ts';
import { createEventsDeps, type EventsDeps } from '../../lib/runtime/events-deps.ts';
import { lambdaWithoutSecrets } from '../../lib/runtime/lambda.ts';
import { imageRecords } from '../../lib/runtime/stream-records.ts';

export const createHandler =
  (deps: EventsDeps) =>
  async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> =>
    deliverOutboxRecords(deps, imageRecords(event));

export const handler = lambdaWithoutSecrets((config) => createEventsDeps(config), createHandler);
