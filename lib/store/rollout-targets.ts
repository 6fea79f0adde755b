// What a rollout needs from the rest of the table (docs/fleet.md): the mini programs it may target (read from the
// authorizer profiles without their refresh tokens), which rollout a mini program's current audit belongs to
// (AUTHORIZER#<appid>/ROLLOUT), and the component's submit quota (COMPONENT#<appid>/SUBMIT_QUOTA).
import { BatchGetCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { nowSeconds } from '../kernel/clock.ts';
import { conditionMet } from './table.ts';
import { AUTHORIZER_LIST, authorizerKey, currentRolloutKey, GSI2, submitQuotaKey } from './keys.ts';
import type { StoreDeps } from './keys.ts';

/** An authorizer as a rollout sees it: never its tokens. */
export interface RolloutCandidate {
  readonly authorizerAppid: string;
  readonly status: string;
  readonly isMiniProgram: boolean;
  readonly funcInfo: readonly number[];
  /** The profile's `tenant` (set when the account came through a signed link with one); may be absent. */
  readonly tenant?: string;
}

const PROJECTION = {
  ProjectionExpression: '#appid, #status, #info.#isMp, #funcInfo, #tenant',
  ExpressionAttributeNames: {
    '#appid': 'authorizerAppid',
    '#status': 'status',
    '#info': 'info',
    '#isMp': 'isMiniProgram',
    '#funcInfo': 'funcInfo',
    '#tenant': 'tenant',
  },
};

const toCandidate = (item: Record<string, unknown>): RolloutCandidate => ({
  authorizerAppid: String(item.authorizerAppid),
  status: String(item.status),
  isMiniProgram: (item.info as { isMiniProgram?: unknown } | undefined)?.isMiniProgram === true,
  funcInfo: Array.isArray(item.funcInfo) ? (item.funcInfo as number[]) : [],
  ...(typeof item.tenant === 'string' && item.tenant !== '' ? { tenant: item.tenant } : {}),
});

/** The profiles of `appids` (at most 100), projected; unknown appids are simply absent. */
export const rolloutCandidates = async (deps: StoreDeps, appids: readonly string[]): Promise<RolloutCandidate[]> => {
  const found: RolloutCandidate[] = [];
  let keys: Record<string, unknown>[] = appids.map((a) => authorizerKey(a, 'PROFILE'));
  for (let attempt = 0; keys.length > 0; attempt += 1) {
    if (attempt === 5) throw new Error(`BatchGetItem left ${keys.length} key(s) unprocessed`);
    const out = await deps.doc.send(new BatchGetCommand({ RequestItems: { [deps.tableName]: { Keys: keys, ...PROJECTION } } }));
    found.push(...(out.Responses?.[deps.tableName] ?? []).map(toCandidate));
    keys = out.UnprocessedKeys?.[deps.tableName]?.Keys ?? [];
  }
  return found.sort((a, b) => a.authorizerAppid.localeCompare(b.authorizerAppid));
};

/** Every authorizer, 100 at a time in appid order, from the AUTHORIZERS partition of gsi2 (never a Scan). */
export async function* allRolloutCandidates(deps: StoreDeps): AsyncGenerator<RolloutCandidate[]> {
  let start: Record<string, unknown> | undefined;
  do {
    const page = await deps.doc.send(
      new QueryCommand({
        TableName: deps.tableName,
        IndexName: GSI2,
        KeyConditionExpression: 'gsi2pk = :list',
        ExpressionAttributeValues: { ':list': AUTHORIZER_LIST },
        Limit: 100,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    const appids = (page.Items ?? []).map((k) => String(k.gsi2sk));
    if (appids.length > 0) yield await rolloutCandidates(deps, appids);
    start = page.LastEvaluatedKey;
  } while (start);
}

/** The transaction item that makes `rolloutId` the owner of the mini program's next audit results. */
export const currentRolloutPut = (deps: StoreDeps, appid: string, rolloutId: string) => ({
  Put: { TableName: deps.tableName, Item: { ...currentRolloutKey(appid), authorizerAppid: appid, rolloutId, updatedAt: nowSeconds(deps.clock) } },
});

/** Where an audit result of `appid` belongs: the rollout that submitted it (if any) and the account's tenant. One read. */
export const auditResultTarget = async (deps: StoreDeps, appid: string): Promise<{ rolloutId?: string; tenant?: string }> => {
  const keys = [currentRolloutKey(appid), authorizerKey(appid, 'PROFILE')];
  const request = {
    Keys: keys,
    ConsistentRead: true,
    ProjectionExpression: 'pk, sk, #rolloutId, #tenant',
    ExpressionAttributeNames: { '#rolloutId': 'rolloutId', '#tenant': 'tenant' },
  };
  const out = await deps.doc.send(new BatchGetCommand({ RequestItems: { [deps.tableName]: request } }));
  const found = out.Responses?.[deps.tableName] ?? [];
  if (Object.keys(out.UnprocessedKeys ?? {}).length > 0) throw new Error('BatchGetItem left the audit target keys unprocessed');
  const rolloutId = found.find((i) => i.sk === keys[0]?.sk)?.rolloutId;
  const tenant = found.find((i) => i.sk === 'PROFILE')?.tenant;
  return { ...(typeof rolloutId === 'string' ? { rolloutId } : {}), ...(typeof tenant === 'string' && tenant !== '' ? { tenant } : {}) };
};

/** The component's submit quota as last read from WeChat (queryquota), minus the submissions made since. */
export interface StoredSubmitQuota {
  readonly rest: number;
  readonly limit: number;
  /** When WeChat was last asked. */
  readonly checkedAt: number;
}

export const getSubmitQuota = async (deps: StoreDeps, componentAppId: string): Promise<StoredSubmitQuota | undefined> => {
  const { Item } = await deps.doc.send(new GetCommand({ TableName: deps.tableName, Key: submitQuotaKey(componentAppId), ConsistentRead: true }));
  if (!Item || typeof Item.rest !== 'number') return undefined;
  return { rest: Item.rest, limit: Number(Item.limit ?? 0), checkedAt: Number(Item.checkedAt ?? 0) };
};

/** Stores what queryquota just said (or 0 after an 85085). */
export const saveSubmitQuota = async (deps: StoreDeps, componentAppId: string, quota: { rest: number; limit?: number }): Promise<void> => {
  const now = nowSeconds(deps.clock);
  await deps.doc.send(
    new PutCommand({
      TableName: deps.tableName,
      Item: { ...submitQuotaKey(componentAppId), rest: Math.max(0, quota.rest), limit: quota.limit ?? 0, checkedAt: now, updatedAt: now },
    }),
  );
};

/** Takes one submission from the quota; false when none is left (or it was never read). One item, so it serialises. */
export const reserveSubmission = (deps: StoreDeps, componentAppId: string): Promise<boolean> =>
  conditionMet(() =>
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: submitQuotaKey(componentAppId),
        UpdateExpression: 'SET rest = rest - :one',
        ConditionExpression: 'rest > :zero',
        ExpressionAttributeValues: { ':one': 1, ':zero': 0 },
      }),
    ),
  );

/** Gives back a reservation whose submission WeChat refused (it did not count). */
export const refundSubmission = (deps: StoreDeps, componentAppId: string): Promise<boolean> =>
  conditionMet(() =>
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: submitQuotaKey(componentAppId),
        UpdateExpression: 'ADD rest :one',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':one': 1 },
      }),
    ),
  );
