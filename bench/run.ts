// `npm run bench`: runs every benchmark under bench/ one after another (each prints `BENCH_RESULT {json}`
// lines), writes bench/results.json and prints a table. Not part of `npm test`.
import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import type { BenchResult } from './lib.ts';

const only = process.argv.slice(2);
const files = readdirSync('bench')
  .filter((f) => f.endsWith('.ts') && !['run.ts', 'lib.ts'].includes(f))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

const runOne = (file: string): Promise<{ results: BenchResult[]; code: number }> =>
  new Promise((resolve) => {
    const results: BenchResult[] = [];
    const child = spawn(process.execPath, [`bench/${file}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buffer = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('BENCH_RESULT ')) results.push(JSON.parse(line.slice(13)) as BenchResult);
        else process.stdout.write(`  ${line}\n`);
      }
    });
    child.on('exit', (code) => resolve({ results, code: code ?? 1 }));
  });

const all: BenchResult[] = [];
let failures = 0;
const started = Date.now();
for (const file of files) {
  process.stdout.write(`▶ bench/${file}\n`);
  const { results, code } = await runOne(file);
  if (code !== 0) {
    failures += 1;
    process.stdout.write(`  ✖ bench/${file} exited with ${code}\n`);
  }
  all.push(...results);
}
writeFileSync('bench/results.json', `${JSON.stringify(all, null, 2)}\n`);
const rows = all.map((r) => `| ${r.name} | ${r.value} ${r.unit} | ${r.target ?? ''} | ${r.note ?? ''} |`);
process.stdout.write(['', '| figure | value | target | note |', '|---|---|---|---|', ...rows, ''].join('\n'));
process.stdout.write(`\n${all.length} figures from ${files.length} benchmarks in ${((Date.now() - started) / 1000).toFixed(1)} s; wrote bench/results.json\n`);
process.exit(failures > 0 ? 1 : 0);
