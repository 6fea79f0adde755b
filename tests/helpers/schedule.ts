// What the schedule holds across all its partitions (lib/store/schedule.ts reads one shard at a time, as the
// refresh workers do): for tests that ask "is this account due", whatever its shard.
import { listDueAuthorizers, type DueCursor } from '../../lib/store/schedule.ts';
import type { StoreDeps } from '../../lib/store/keys.ts';
import { ALL_SHARDS } from '../../lib/tokens/scheduled-refresh.ts';

/** Every appid due by `dueBefore` (epoch s), in every shard and the unsharded partition, sorted. */
export const dueEverywhere = async (deps: Pick<StoreDeps, 'doc' | 'tableName'>, dueBefore: number): Promise<string[]> => {
  const appids: string[] = [];
  for (const shard of ALL_SHARDS) {
    let cursor: DueCursor | undefined;
    do {
      const page = await listDueAuthorizers(deps, { dueBefore, shard, ...(cursor ? { exclusiveStartKey: cursor } : {}) });
      appids.push(...page.appids);
      cursor = page.lastKey;
    } while (cursor);
  }
  return appids.sort();
};
