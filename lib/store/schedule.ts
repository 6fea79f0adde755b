// What is due: the sparse gsi1 lists every token item by expiry (gsi1pk = DUE#authorizer, gsi1sk = zero-padded
// expiresAt), so the scheduled refresh reads only the tokens expiring before a cut-off. Its cost follows what is
// due, never how many accounts the table holds: no Scan, and a KEYS_ONLY index keeps each entry small.
import { QueryCommand, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import { DUE_AUTHORIZER, dueSortKey, GSI1, type StoreDeps } from './keys.ts';

/** Entries per page; a KEYS_ONLY entry is ~100 bytes, far from the 1 MB page limit. */
export const DUE_PAGE_SIZE = 250;

export type DueCursor = Record<string, unknown>;

export interface DuePage {
  /** Authorizer appids whose token expires at or before `dueBefore`, soonest first. */
  readonly appids: string[];
  /** Pass back as `exclusiveStartKey` for the next page; undefined on the last page. */
  readonly lastKey: DueCursor | undefined;
  /** Read capacity units this page consumed (ReturnConsumedCapacity TOTAL; 0 when not reported). */
  readonly consumedCapacity: number;
}

export interface DueQuery {
  /** Epoch seconds: tokens with expiresAt <= dueBefore are due (expired ones included). */
  readonly dueBefore: number;
  readonly pageSize?: number;
  readonly exclusiveStartKey?: DueCursor | undefined;
}

const AUTHORIZER_PREFIX = 'AUTHORIZER#';

const appidOf = (item: Record<string, unknown>): string | undefined => {
  const pk = item.pk;
  return typeof pk === 'string' && pk.startsWith(AUTHORIZER_PREFIX) ? pk.slice(AUTHORIZER_PREFIX.length) : undefined;
};

/** One page of authorizer tokens due by `dueBefore`, from the gsi1 index (an eventually consistent Query). */
export const listDueAuthorizers = async (deps: Pick<StoreDeps, 'doc' | 'tableName'>, query: DueQuery): Promise<DuePage> => {
  if (!Number.isInteger(query.dueBefore) || query.dueBefore < 0) throw new RangeError('dueBefore must be epoch seconds');
  const output: QueryCommandOutput = await deps.doc.send(
    new QueryCommand({
      TableName: deps.tableName,
      IndexName: GSI1,
      KeyConditionExpression: 'gsi1pk = :due AND gsi1sk <= :before',
      ExpressionAttributeValues: { ':due': DUE_AUTHORIZER, ':before': dueSortKey(query.dueBefore) },
      Limit: query.pageSize ?? DUE_PAGE_SIZE,
      ReturnConsumedCapacity: 'TOTAL',
      ...(query.exclusiveStartKey ? { ExclusiveStartKey: query.exclusiveStartKey } : {}),
    }),
  );
  const appids = (output.Items ?? []).map(appidOf).filter((appid): appid is string => appid !== undefined);
  return { appids, lastKey: output.LastEvaluatedKey, consumedCapacity: output.ConsumedCapacity?.CapacityUnits ?? 0 };
};
