// Shared by the benchmarks: one result line format that `npm run bench` collects into bench/results.json.
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  target?: string;
  command: string;
  note?: string;
}

export const report = (result: BenchResult): void => {
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
};

export const percentile = (sorted: number[], p: number): number => {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
};

export const median = (values: number[]): number =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );

export const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

/**
 * Whether a figure meets its target, for targets written as `[op] number [unit] [(why)]` with op one of
 * <=, >=, <, >, <<, ≤, ≥, = (none means equal), e.g. '>= 2×', '<= 150 ms', '1'. Undefined when there is
 * no target or it is not of that form (e.g. '∝ 1,000'); the unit is assumed to be the figure's.
 */
export const meetsTarget = (result: Pick<BenchResult, 'value' | 'target'>): boolean | undefined => {
  const match = /^\s*(<<|<=|>=|≤|≥|<|>|==|=)?\s*(-?[\d,]*\.?\d+)/.exec(result.target ?? '');
  if (!match) return undefined;
  const bound = Number(match[2]!.replaceAll(',', ''));
  const value = result.value;
  switch (match[1]) {
    case '<<':
    case '<':
      return value < bound;
    case '<=':
    case '≤':
      return value <= bound;
    case '>=':
    case '≥':
      return value >= bound;
    case '>':
      return value > bound;
    default:
      return value === bound;
  }
};
