// How the table's stream records reach the functions that consume them (`authorized`, `fleet`, `events`): each
// reduced to its sequence number (the batch item identifier ReportBatchItemFailures names) and its unmarshalled
// NEW_IMAGE. An image that does not unmarshal becomes `undefined`, which every consumer drops as malformed, logged.
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';

export interface ImageRecord {
  readonly sequenceNumber: string;
  readonly image: Record<string, unknown> | undefined;
}

type Image = Parameters<typeof unmarshall>[0];

export const toImageRecord = (record: DynamoDBRecord): ImageRecord => {
  const sequenceNumber = record.dynamodb?.SequenceNumber ?? record.eventID ?? '';
  try {
    const raw = record.dynamodb?.NewImage;
    return { sequenceNumber, image: raw ? unmarshall(raw as Image) : undefined };
  } catch {
    return { sequenceNumber, image: undefined };
  }
};

/** Every record of a stream batch, in order. */
export const imageRecords = (event: DynamoDBStreamEvent): ImageRecord[] => (event.Records ?? []).map(toImageRecord);
