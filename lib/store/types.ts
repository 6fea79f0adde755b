import type { Deps } from '../runtime/deps.ts';

/** What the store modules need: the table, its client and the clock (for expiry checks on read). */
export type StoreDeps = Pick<Deps, 'doc' | 'tableName' | 'clock'>;
