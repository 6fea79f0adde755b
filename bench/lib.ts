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

export const median = (values: number[]): number => percentile([...values].sort((a, b) => a - b), 50);

export const round = (value: number, digits = 2): number => Number(value.toFixed(digits));
