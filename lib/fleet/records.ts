// The fleet function's stream side (docs/fleet.md): account items of rollouts arrive in batches from the table's
// stream (INSERT and MODIFY of ROLLOUT#…/ACCOUNT#…); each account gets one step, up to FLEET_CONCURRENCY at once.
// Only the newest image of an account in a batch is looked at: an older one is stale by construction (its writes
// would fail their version condition). A step that throws (the table failed it) is reported for redelivery; a
// step that WeChat failed has already recorded that on the item and is not an error here.
import type { FleetDeps } from './context.ts';
import { createStepContext } from './context.ts';
import { advanceAccount } from './advance.ts';
import { rolloutAccountFromImage } from '../store/rollouts.ts';

/** Accounts stepped at once by one invocation: the WeChat calls in flight per stream shard. */
export const FLEET_CONCURRENCY = 20;

export interface RolloutRecord {
  readonly sequenceNumber: string;
  readonly image: Record<string, unknown> | undefined;
}

export interface RolloutBatchResult {
  readonly batchItemFailures: { itemIdentifier: string }[];
}

/** Runs `work` over `items` with at most `limit` in flight. */
export const inPool = async <T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> => {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      await work(item);
    }
  });
  await Promise.all(lanes);
};

export const processRolloutRecords = async (
  deps: FleetDeps,
  records: readonly RolloutRecord[],
  options: { concurrency?: number } = {},
): Promise<RolloutBatchResult> => {
  const ctx = createStepContext(deps);
  const newest = new Map<string, { record: RolloutRecord; account: NonNullable<ReturnType<typeof rolloutAccountFromImage>> }>();
  for (const record of records) {
    const account = rolloutAccountFromImage(record.image);
    if (!account) {
      deps.logger.warn('rollout.record_skipped', { sequenceNumber: record.sequenceNumber });
      continue;
    }
    const key = `${account.rolloutId}/${account.authorizerAppid}`;
    const seen = newest.get(key);
    if (!seen || seen.account.version <= account.version) newest.set(key, { record, account });
  }
  const failures: { itemIdentifier: string }[] = [];
  await inPool([...newest.values()], options.concurrency ?? FLEET_CONCURRENCY, async ({ record, account }) => {
    try {
      await advanceAccount(ctx, account);
    } catch (error) {
      deps.logger.error(
        'rollout.step_error',
        { rolloutId: account.rolloutId, authorizerAppid: account.authorizerAppid, stage: account.stage },
        error,
      );
      failures.push({ itemIdentifier: record.sequenceNumber });
    }
  });
  return { batchItemFailures: failures };
};
