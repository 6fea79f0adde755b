// Seeded randomness and byte/text mutators for the reliability fuzz tests. Everything derives from one
// 32-bit seed, so a failure prints the seed and the case index and replays exactly:
//   FUZZ_SEED=<seed> npx node scripts/test.ts "tests/reliability/push-fuzz.test.ts"

/** A small deterministic PRNG (mulberry32): fast, 32-bit state, good enough to pick mutations. */
export interface Rng {
  readonly seed: number;
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Uniform integer in [min, max]. */
  between(min: number, max: number): number;
  bool(p?: number): boolean;
  pick<T>(items: readonly T[]): T;
  bytes(n: number): Buffer;
  /** An independent generator for sub-case `index` (cases replay alone, in any order). */
  fork(index: number): Rng;
}

export const createRng = (seed: number): Rng => {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return {
    seed: seed >>> 0,
    next,
    int,
    between: (min, max) => min + int(max - min + 1),
    bool: (p = 0.5) => next() < p,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[int(items.length)] as T;
    },
    bytes: (n) => {
      const out = Buffer.alloc(n);
      for (let i = 0; i < n; i += 1) out[i] = int(256);
      return out;
    },
    // Golden-ratio stride decorrelates neighbouring indexes.
    fork: (index) => createRng(((seed >>> 0) ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0),
  };
};

/** The run's seed: FUZZ_SEED when set (to replay), else a fresh one. */
export const fuzzSeed = (env = process.env): number => {
  const given = env.FUZZ_SEED;
  if (given !== undefined && given !== '') {
    const seed = Number(given);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`FUZZ_SEED must be an integer in [0, 2^32): ${given}`);
    return seed;
  }
  return Math.floor(Math.random() * 0x100000000) >>> 0;
};

/** How many cases to run: FUZZ_CASES wins, then FUZZ_LONG (the long run), then the default. */
export const fuzzCases = (defaults: { normal: number; long: number }, env = process.env): number => {
  if (env.FUZZ_CASES) return Math.max(1, Number(env.FUZZ_CASES));
  return env.FUZZ_LONG === '1' ? defaults.long : defaults.normal;
};

// ---- generic mutators -------------------------------------------------------------------------------------

/** Flips `count` random bits. */
export const flipBits = (input: Buffer, rng: Rng, count = 1): Buffer => {
  const out = Buffer.from(input);
  if (out.length === 0) return out;
  for (let i = 0; i < count; i += 1) {
    const at = rng.int(out.length);
    out[at] = (out[at] ?? 0) ^ (1 << rng.int(8));
  }
  return out;
};

/** Appends 1..max random bytes. */
export const extend = (input: Buffer, rng: Rng, max = 64): Buffer => Buffer.concat([input, rng.bytes(rng.between(1, max))]);

/** Replaces one character of a string with one from `alphabet`. */
export const replaceChar = (input: string, rng: Rng, alphabet: string): string => {
  if (input.length === 0) return rng.pick([...alphabet]);
  const at = rng.int(input.length);
  return input.slice(0, at) + rng.pick([...alphabet]) + input.slice(at + 1);
};

/** Inserts `insert` at a random position. */
export const insertAt = (input: string, rng: Rng, insert: string): string => {
  const at = rng.int(input.length + 1);
  return input.slice(0, at) + insert + input.slice(at);
};

/** Removes one random character. */
export const dropChar = (input: string, rng: Rng): string => {
  if (input.length === 0) return input;
  const at = rng.int(input.length);
  return input.slice(0, at) + input.slice(at + 1);
};

/** A string with characters from every class that tends to break parsers. */
export const nastyString = (rng: Rng, length = rng.between(0, 24)): string => {
  const pool = [
    '<',
    '>',
    '&',
    '"',
    "'",
    ']]>',
    '<![CDATA[',
    '\u0000',
    '\u202e',
    '\uFEFF',
    '\uD800',
    '😀',
    '中',
    '%00',
    '\\',
    '\r\n',
    ' ',
    'a',
    '0',
    '@@@',
    '__proto__',
  ];
  let out = '';
  for (let i = 0; i < length; i += 1) out += rng.pick(pool);
  return out;
};

/** Whether `bytes` is valid UTF-8 (API Gateway passes such bodies as text, anything else base64-encoded). */
export const isUtf8 = (bytes: Buffer): boolean => {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
};
