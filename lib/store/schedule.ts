// What is due: the schedule lives on the authorizer PROFILE, the one item that never expires (no TTL). Each
// authorized profile carries `nextRefreshAt` (epoch s) and the sparse gsi1 keys gsi1pk = DUE#authorizer#<shard>,
// gsi1sk = zero-padded nextRefreshAt, so the scheduled refresh reads only what is due, never a Scan, and an
// account whose token expired unrefreshed, or whose token item TTL deleted, stays due until it is refreshed
// (docs/data-model.md, "The index gsi1"). The shard (keys.ts dueShardOf) is a hash of the appid: refresh workers
// each read their own shards. Profiles that are not `authorized` carry no schedule keys.
import { QueryCommand, UpdateCommand, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import { nowSeconds } from '../kernel/clock.ts';
import { conditionMet } from './table.ts';
import { authorizerKey, DUE_AUTHORIZER, duePartition, dueShardOf, dueSortKey, GSI1, type StoreDeps } from './keys.ts';

/** Entries per page; a KEYS_ONLY entry is ~100 bytes, far from the 1 MB page limit. */
export const DUE_PAGE_SIZE = 250;

/**
 * A token is due this long before it expires: one schedule interval (a token must outlive the next run) plus
 * the refresh window (lib/tokens/scheduled-refresh.ts: SCHEDULE_INTERVAL_S + REFRESH_WINDOW_S).
 */
export const REFRESH_LEAD_S = 900;

/** When a token expiring at `expiresAt` (epoch s) should be refreshed. */
export const nextRefreshFor = (expiresAt: number): number => expiresAt - REFRESH_LEAD_S;

/** The schedule attributes of an authorized profile: its next refresh time and the gsi1 keys that index it. */
export const scheduleAttributes = (appid: string, nextRefreshAt: number) => ({
  nextRefreshAt,
  gsi1pk: duePartition(dueShardOf(appid)),
  gsi1sk: dueSortKey(nextRefreshAt),
});

/**
 * What a schedule condition tests: the profile is on the schedule, in its shard or (written before the sharding)
 * in the unsharded partition. Both begin with DUE#authorizer; nothing else on gsi1 does.
 */
const ON_SCHEDULE = 'begins_with(gsi1pk, :due)';

export type DueCursor = Record<string, unknown>;

export interface DuePage {
  /** Authorizer appids whose nextRefreshAt is at or before `dueBefore`, soonest first. */
  readonly appids: string[];
  /** Pass back as `exclusiveStartKey` for the next page; undefined on the last page. */
  readonly lastKey: DueCursor | undefined;
  /** Read capacity units this page consumed (ReturnConsumedCapacity TOTAL; 0 when not reported). */
  readonly consumedCapacity: number;
}

export interface DueQuery {
  /** Epoch seconds: profiles with nextRefreshAt <= dueBefore are due (overdue ones included). */
  readonly dueBefore: number;
  /** One shard (0 … DUE_SHARDS - 1), or `unsharded`: the partition of profiles scheduled before the sharding. */
  readonly shard: number | 'unsharded';
  readonly pageSize?: number;
  readonly exclusiveStartKey?: DueCursor | undefined;
}

const AUTHORIZER_PREFIX = 'AUTHORIZER#';

const appidOf = (item: Record<string, unknown>): string | undefined => {
  const pk = item.pk;
  return typeof pk === 'string' && pk.startsWith(AUTHORIZER_PREFIX) ? pk.slice(AUTHORIZER_PREFIX.length) : undefined;
};

/** One page of one shard's authorizers due by `dueBefore`, from the gsi1 index (an eventually consistent Query). */
export const listDueAuthorizers = async (deps: Pick<StoreDeps, 'doc' | 'tableName'>, query: DueQuery): Promise<DuePage> => {
  if (!Number.isInteger(query.dueBefore) || query.dueBefore < 0) throw new RangeError('dueBefore must be epoch seconds');
  const partition = query.shard === 'unsharded' ? DUE_AUTHORIZER : duePartition(query.shard);
  const output: QueryCommandOutput = await deps.doc.send(
    new QueryCommand({
      TableName: deps.tableName,
      IndexName: GSI1,
      KeyConditionExpression: 'gsi1pk = :due AND gsi1sk <= :before',
      ExpressionAttributeValues: { ':due': partition, ':before': dueSortKey(query.dueBefore) },
      Limit: query.pageSize ?? DUE_PAGE_SIZE,
      ReturnConsumedCapacity: 'TOTAL',
      ...(query.exclusiveStartKey ? { ExclusiveStartKey: query.exclusiveStartKey } : {}),
    }),
  );
  const appids = (output.Items ?? []).map(appidOf).filter((appid): appid is string => appid !== undefined);
  return { appids, lastKey: output.LastEvaluatedKey, consumedCapacity: output.ConsumedCapacity?.CapacityUnits ?? 0 };
};

/**
 * Moves a scheduled account's next refresh to `nextRefreshAt` if that is later than the stored one (a refresh
 * found its token fresh: someone else refreshed it). Never schedules an account that is not on the schedule.
 * Like every write of the schedule, it puts the profile in its shard.
 */
export const postponeRefresh = (deps: StoreDeps, appid: string, nextRefreshAt: number): Promise<boolean> => {
  const s = scheduleAttributes(appid, nextRefreshAt);
  return conditionMet(() =>
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: authorizerKey(appid, 'PROFILE'),
        UpdateExpression: 'SET nextRefreshAt = :next, gsi1pk = :pk, gsi1sk = :sk',
        ConditionExpression: `${ON_SCHEDULE} AND nextRefreshAt < :next`,
        ExpressionAttributeValues: { ':next': nextRefreshAt, ':pk': s.gsi1pk, ':sk': s.gsi1sk, ':due': DUE_AUTHORIZER },
      }),
    ),
  );
};

/** Makes a scheduled account due now (its token was rejected and expired): the next run refreshes it first. */
export const refreshSoon = (deps: StoreDeps, appid: string): Promise<boolean> => {
  const now = nowSeconds(deps.clock);
  const s = scheduleAttributes(appid, now);
  return conditionMet(() =>
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: authorizerKey(appid, 'PROFILE'),
        UpdateExpression: 'SET nextRefreshAt = :now, gsi1pk = :pk, gsi1sk = :sk',
        ConditionExpression: `${ON_SCHEDULE} AND nextRefreshAt > :now`,
        ExpressionAttributeValues: { ':now': now, ':pk': s.gsi1pk, ':sk': s.gsi1sk, ':due': DUE_AUTHORIZER },
      }),
    ),
  );
};

/** Takes an account that is no longer authorized off the schedule (data written before the schedule moved here). */
export const unschedule = (deps: StoreDeps, appid: string): Promise<boolean> =>
  conditionMet(() =>
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: authorizerKey(appid, 'PROFILE'),
        UpdateExpression: 'REMOVE gsi1pk, gsi1sk, nextRefreshAt',
        ConditionExpression: 'attribute_exists(gsi1pk) AND #status <> :authorized',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':authorized': 'authorized' },
      }),
    ),
  );
