// EVENT items: authorization events from the ticket function and release-test tasks from the message
// function (docs/architecture.md §3). Written once (`attribute_not_exists(pk)`), so WeChat's retries and duplicate
// deliveries are no-ops; the `authorized` function consumes them from the table's stream.
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { nowSeconds } from '../kernel/clock.ts';
import { AppError } from '../kernel/errors.ts';
import { eventKey, sha256, type StoreDeps } from './keys.ts';
import { conditionMet } from './table.ts';

/** Long enough for the stream consumer's retries; short enough that the table stays small. */
export const EVENT_TTL_S = 7 * 24 * 60 * 60;

export type EventKind = 'component_push' | 'release_test_task' | 'audit_result';
const KINDS: readonly EventKind[] = ['component_push', 'release_test_task', 'audit_result'];

export interface NewEvent {
  readonly kind: EventKind;
  readonly infoType: string;
  readonly componentAppId: string;
  readonly authorizerAppid?: string;
  /** WeChat's CreateTime, epoch seconds. */
  readonly createTime: number;
  /** The message's fields, as strings. */
  readonly payload: Readonly<Record<string, string>>;
}

export interface StoredEvent extends NewEvent {
  /** sha256 of (AppId, InfoType, AuthorizerAppid, CreateTime): the same push always gets the same id. */
  readonly id: string;
  readonly receivedAt: number;
  readonly expiresAt: number;
}

/** An item that does not have the EVENT shape; `field` names the first offending attribute. */
export class EventShapeError extends AppError {
  readonly field: string;
  constructor(field: string) {
    super(`event item has a missing or malformed ${field}`);
    this.field = field;
  }
}

/** The deduplication id of an event (docs/architecture.md §3). */
export const eventId = (e: Pick<NewEvent, 'componentAppId' | 'infoType' | 'authorizerAppid' | 'createTime'>): string =>
  sha256([e.componentAppId, e.infoType, e.authorizerAppid ?? '', String(e.createTime)].join('\n'));

/** Writes the event once; a second delivery of the same push is reported as a duplicate and changes nothing. */
export const recordEvent = async (deps: StoreDeps, event: NewEvent): Promise<'recorded' | 'duplicate'> => {
  const receivedAt = nowSeconds(deps.clock);
  const recorded = await conditionMet(() =>
    deps.doc.send(
      new PutCommand({
        TableName: deps.tableName,
        Item: {
          ...eventKey(eventId(event)),
          kind: event.kind,
          infoType: event.infoType,
          componentAppId: event.componentAppId,
          authorizerAppid: event.authorizerAppid,
          createTime: event.createTime,
          payload: { ...event.payload },
          receivedAt,
          expiresAt: receivedAt + EVENT_TTL_S,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    ),
  );
  return recorded ? 'recorded' : 'duplicate';
};

const str = (image: Record<string, unknown>, field: string): string => {
  const value = image[field];
  if (typeof value !== 'string' || value === '') throw new EventShapeError(field);
  return value;
};

const num = (image: Record<string, unknown>, field: string): number => {
  const value = image[field];
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new EventShapeError(field);
  return value;
};

const stringRecord = (value: unknown): Record<string, string> => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new EventShapeError('payload');
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new EventShapeError(`payload.${key}`);
    out[key] = v;
  }
  return out;
};

/** Reads an unmarshalled stream NEW_IMAGE back into an event, validating every attribute. */
export const eventFromStreamImage = (image: Record<string, unknown>): StoredEvent => {
  const pk = str(image, 'pk');
  if (!pk.startsWith('EVENT#') || image.sk !== 'EVENT') throw new EventShapeError('pk');
  const kind = str(image, 'kind') as EventKind;
  if (!KINDS.includes(kind)) throw new EventShapeError('kind');
  const authorizerAppid = image.authorizerAppid === undefined ? undefined : str(image, 'authorizerAppid');
  return {
    id: pk.slice('EVENT#'.length),
    kind,
    infoType: str(image, 'infoType'),
    componentAppId: str(image, 'componentAppId'),
    ...(authorizerAppid === undefined ? {} : { authorizerAppid }),
    createTime: num(image, 'createTime'),
    payload: stringRecord(image.payload),
    receivedAt: num(image, 'receivedAt'),
    expiresAt: num(image, 'expiresAt'),
  };
};
