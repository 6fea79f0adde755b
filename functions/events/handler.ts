// The outbox's delivery (docs/events.md): the table's stream, filtered to inserted OUTBOX items
// (serverless.yml), in batches → PutEvents on the platform's bus. Records whose entries were not accepted are
// reported back (ReportBatchItemFailures) and redelivered with the same eventId; after the retries the
// failure queue holds them.
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { deliverOutboxRecords, type OutboxRecord } from '../../lib/events/delivery.ts';
import { createEventsDeps, type EventsDeps } from '../../lib/runtime/events-deps.ts';
import { lambdaWithoutSecrets } from '../../lib/runtime/lambda.ts';

type Image = Parameters<typeof unmarshall>[0];

const toOutboxRecord = (record: DynamoDBRecord): OutboxRecord => {
  const sequenceNumber = record.dynamodb?.SequenceNumber ?? record.eventID ?? '';
  try {
    const raw = record.dynamodb?.NewImage;
    return { sequenceNumber, image: raw ? unmarshall(raw as Image) : undefined };
  } catch {
    // An image that does not unmarshal is dropped (logged) as malformed by the delivery.
    return { sequenceNumber, image: undefined };
  }
};

export const createHandler =
  (deps: EventsDeps) =>
  async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> =>
    deliverOutboxRecords(deps, (event.Records ?? []).map(toOutboxRecord));

export const handler = lambdaWithoutSecrets((config) => createEventsDeps(config), createHandler);
