// Cold start: each function bundled exactly as serverless.yml bundles it (esbuild, cjs, minified, node22),
// its size, the top five contributors, and module-initialisation time: `require()` of the bundle in a
// fresh Node 22 process, median of 10.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { median, report, round } from './lib.ts';

const FUNCTIONS = ['ticket', 'message', 'authorize', 'authorized', 'refresh', 'token', 'login'];
const COMMAND = 'node bench/cold-start.ts';
const RUNS = 10;

const packageOf = (path: string): string => {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  return match ? match[1]! : path.split('/').slice(0, 2).join('/');
};

const topContributors = (metafile: Metafile, count: number): { name: string; kib: number }[] => {
  const totals = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
      totals.set(packageOf(path), (totals.get(packageOf(path)) ?? 0) + bytesInOutput);
    }
  }
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, bytes]) => ({ name, kib: round(bytes / 1024, 1) }));
};

const loadTimeMs = (bundle: string): number => {
  const script = `const t=process.hrtime.bigint();require(${JSON.stringify(bundle)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`;
  return Number(execFileSync(process.execPath, ['-e', script], { env: { ...process.env, NODE_OPTIONS: '' } }).toString());
};

const dir = mkdtempSync(join(tmpdir(), 'cold-start-'));
try {
  for (const fn of FUNCTIONS) {
    const outfile = join(dir, `${fn}.cjs`);
    const result = await build({
      entryPoints: [`functions/${fn}/handler.ts`],
      bundle: true,
      minify: true,
      keepNames: true,
      platform: 'node',
      target: 'node22',
      format: 'cjs',
      outfile,
      metafile: true,
      logLevel: 'error',
    });
    const kib = round(statSync(outfile).size / 1024, 1);
    const times = Array.from({ length: RUNS }, () => loadTimeMs(outfile));
    const top = topContributors(result.metafile, 5);
    report({
      name: `cold start ${fn}: bundle size`,
      value: kib,
      unit: 'KiB',
      command: COMMAND,
      note: top.map((t) => `${t.name} ${t.kib} KiB`).join(', '),
    });
    report({
      name: `cold start ${fn}: module init (median of ${RUNS})`,
      value: round(median(times), 1),
      unit: 'ms',
      target: fn === 'ticket' ? '<= 150 ms' : undefined,
      command: COMMAND,
    });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
