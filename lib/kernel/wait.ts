// Waiting on work another Lambda is doing right now (a token refresh, a code exchange, a message delivery):
// the one wait loop. Jittered pauses spread the waiters' reads instead of polling in lockstep, each pause is
// longer than the last up to a ceiling, and the whole wait is bounded.
import { sleep } from './clock.ts';

export interface WaitOptions {
  /** How long to wait in all (the sum of the pauses) before giving up. */
  readonly maxWaitMs: number;
  /** The first pause; each next one is 1.5 times longer, up to pollMaxMs. Every pause is jittered to 50-150 %. */
  readonly pollMinMs: number;
  readonly pollMaxMs: number;
}

/**
 * Pauses, then runs `check`, until `check` returns a value (which waitFor returns) or `maxWaitMs` of pauses
 * have passed (undefined). `last` tells the final check that no other follows, so it can settle for less.
 */
export const waitFor = async <T>(options: WaitOptions, check: (last: boolean) => Promise<T | undefined>): Promise<T | undefined> => {
  let waited = 0;
  let delay = options.pollMinMs;
  while (waited < options.maxWaitMs) {
    const pause = Math.round(delay * (0.5 + Math.random()));
    await sleep(pause);
    waited += pause;
    delay = Math.min(Math.ceil(delay * 1.5), options.pollMaxMs);
    const value = await check(waited >= options.maxWaitMs);
    if (value !== undefined) return value;
  }
  return undefined;
};
