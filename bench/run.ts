// `npm run bench`: runs every benchmark under bench/ one after another (each prints `BENCH_RESULT {json}`
// lines), writes bench/results.json and prints a table. Not part of `npm test`.
//   npm run bench                  every benchmark; results.json is rewritten
//   npm run bench crypto upstream  the benchmarks whose file name contains a word; their figures replace
//                                  their old ones in results.json, the others are kept
//   npm run bench -- --table       no run: the table of the current results.json (Markdown, for the README)
// Each benchmark gets BENCH_TIMEOUT_S (default 240; the refresh at 100,000 accounts 720) before it is stopped
// (SIGINT, then SIGKILL), and the whole run BENCH_TOTAL_S (default 1,200): a benchmark gets at most what is left,
// and none starts once nothing is. A stopped benchmark keeps the figures it printed.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { meetsTarget, type BenchResult } from './lib.ts';

const RESULTS = 'bench/results.json';
/** The benchmarks that need longer than the default: seeding 100,000 accounts and refreshing 10,000 three times. */
const LONGER_S: Record<string, number> = { 'refresh-sweep.ts': 720 };
const timeoutMs = (file: string) => Number(process.env.BENCH_TIMEOUT_S ?? LONGER_S[file] ?? 240) * 1000;
const TOTAL_MS = Number(process.env.BENCH_TOTAL_S ?? 1200) * 1000;
const args = process.argv.slice(2);
const only = args.filter((a) => !a.startsWith('--'));

const verdict = (r: BenchResult): string => {
  const met = meetsTarget(r);
  return met === undefined ? '' : met ? 'met' : '**missed**';
};

const table = (results: BenchResult[]): string =>
  [
    '| figure | value | target | |',
    '|---|---|---|---|',
    ...results.map((r) => `| ${r.name} | ${r.value} ${r.unit} | ${r.target ?? ''} | ${verdict(r)} |`),
    '',
  ].join('\n');

const previous = (): BenchResult[] => (existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as BenchResult[]) : []);

if (args.includes('--table')) {
  process.stdout.write(table(previous()));
  process.exit(0);
}

const files = readdirSync('bench')
  .filter((f) => f.endsWith('.ts') && !['run.ts', 'lib.ts'].includes(f))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

const runOne = (file: string, limitMs: number): Promise<{ results: BenchResult[]; code: number; timedOut: boolean }> =>
  new Promise((resolve) => {
    const results: BenchResult[] = [];
    const child = spawn(process.execPath, [`bench/${file}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buffer = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      process.stdout.write(`  ✖ bench/${file} still running after ${Math.round(limitMs / 1000)} s: stopping it\n`);
      child.kill('SIGINT');
      setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 15_000).unref();
    }, limitMs);
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('BENCH_RESULT ')) results.push(JSON.parse(line.slice(13)) as BenchResult);
        else process.stdout.write(`  ${line}\n`);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ results, code: code ?? 1, timedOut });
    });
  });

const fresh: BenchResult[] = [];
let failures = 0;
const started = Date.now();
process.stdout.write(
  `${files.length} benchmarks; ${os.availableParallelism()} cores, load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join('/')}\n`,
);
for (const file of files) {
  const fileStarted = Date.now();
  const left = TOTAL_MS - (fileStarted - started);
  if (left <= 0) {
    failures += 1;
    process.stdout.write(`✖ bench/${file} skipped: the run's ${TOTAL_MS / 1000} s are used up\n`);
    continue;
  }
  process.stdout.write(`▶ bench/${file}\n`);
  const { results, code, timedOut } = await runOne(file, Math.min(timeoutMs(file), left));
  if (code !== 0 || timedOut) {
    failures += 1;
    process.stdout.write(`  ✖ bench/${file} exited with ${code}${timedOut ? ' (timed out)' : ''}\n`);
  }
  process.stdout.write(`  ${results.length} figures in ${((Date.now() - fileStarted) / 1000).toFixed(1)} s\n`);
  fresh.push(...results);
}
// A partial run replaces only the figures of the benchmarks it ran.
const ran = (r: BenchResult) => files.some((f) => r.command.includes(`bench/${f}`));
const all = only.length === 0 ? fresh : [...previous().filter((r) => !ran(r)), ...fresh];
writeFileSync(RESULTS, `${JSON.stringify(all, null, 2)}\n`);
process.stdout.write(`\n${table(fresh)}`);
const missed = fresh.filter((r) => meetsTarget(r) === false);
process.stdout.write(
  `\n${fresh.length} figures from ${files.length} benchmarks in ${((Date.now() - started) / 1000).toFixed(1)} s` +
    `; ${missed.length} targets missed; wrote ${RESULTS}\n`,
);
process.exit(failures > 0 ? 1 : 0);
