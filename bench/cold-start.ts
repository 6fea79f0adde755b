// Cold start as deployed. `sls package --stage prod` builds every function's zip exactly as a deploy would (into
// .build/bench-pkg, with its esbuild work folder in .build/bench so a running `npm start` is not disturbed);
// each function's handler.cjs and handler.cjs.map are taken out of its zip and loaded from there: `require()`
// in a fresh Node process with the NODE_OPTIONS serverless.yml gives the functions (today none), all
// the functions serverless.yml lists in turn (none named here), RUNS rounds; median and minimum per function (a
// burst of load shows as their spread).
// Beside that, each function is built once more with esbuild and the options serverless.yml gives
// serverless-esbuild (read from it, not repeated here), plus a metafile of the bench's own: the build must be
// byte for byte the zip's handler.cjs, and its metafile names the five largest contributors.
// `node bench/cold-start.ts` (or `npm run bench cold`); BENCH_COLD_RUNS=n changes the 10 rounds.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { build, type BuildOptions, type Metafile } from 'esbuild';
import { parse } from 'yaml';
import { readZip } from '../tests/helpers/zip.ts';
import { median, report, round } from './lib.ts';

const COMMAND = 'node bench/cold-start.ts';
const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 10);
const WORK_FOLDER = '.build/bench';
const PACKAGE_DIR = '.build/bench-pkg';
const COMPONENT_APPID = 'wx0123456789abcdef';
/** ≤ 150 ms each; the two URLs WeChat waits on (5 s, cold start included) ≤ 100 ms. */
const TARGET_MS: Record<string, number> = { ticket: 100, message: 100 };
const DEFAULT_TARGET_MS = 150;

// ---- what serverless.yml says ----------------------------------------------------------------------------

interface Serverless {
  provider: { environment: Record<string, string> };
  custom: { esbuild: Record<string, unknown> };
  functions: Record<string, { handler: string }>;
}
// CloudFormation tags (!Ref, !Sub, !GetAtt) are left unresolved: only the build settings are read.
const sls = parse(readFileSync('serverless.yml', 'utf8'), { logLevel: 'error' }) as Serverless;
const FUNCTIONS = Object.keys(sls.functions);
const NODE_OPTIONS = sls.provider.environment.NODE_OPTIONS ?? '';

/** serverless-esbuild's own options, which it takes out before handing the rest to esbuild (its bundle.ts). */
const PLUGIN_OPTIONS = new Set([
  'concurrency',
  'zipConcurrency',
  'exclude',
  'nativeZip',
  'packager',
  'packagePath',
  'watch',
  'keepOutputDirectory',
  'packagerOptions',
  'installExtraArgs',
  'outputFileExtension',
  'outputBuildFolder',
  'outputWorkFolder',
  'nodeExternals',
  'skipBuild',
  'skipRebuild',
  'skipBuildExcludeFns',
  'stripEntryResolveExtensions',
  'disposeContext',
  'config',
]);
const pluginConfig = sls.custom.esbuild;
const extension = String(pluginConfig.outputFileExtension ?? '.js');
const esbuildOptions: BuildOptions = {
  ...Object.fromEntries(Object.entries(pluginConfig).filter(([key]) => !PLUGIN_OPTIONS.has(key))),
  external: [...((pluginConfig.external as string[] | undefined) ?? []), ...((pluginConfig.exclude as string[] | undefined) ?? ['aws-sdk'])],
  ...(extension === '.js' ? {} : { outExtension: { '.js': extension } }),
};
const settings = Object.entries(esbuildOptions)
  .map(([k, v]) => `${k} ${JSON.stringify(v)}`)
  .join(', ');

// ---- the zips ---------------------------------------------------------------------------------------------

const packageFunctions = (): void => {
  const started = Date.now();
  const env = {
    ...process.env,
    ESBUILD_WORK_FOLDER: WORK_FOLDER,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: 'ap-east-1',
  };
  const args = [
    'node_modules/serverless/bin/serverless.js',
    'package',
    '--stage',
    'prod',
    '--region',
    'ap-east-1',
    '--package',
    PACKAGE_DIR,
    // A deployed stage has no default appid (serverless.yml params); any well-formed one builds the same bundles.
    `--param=componentAppId=${COMPONENT_APPID}`,
  ];
  rmSync(PACKAGE_DIR, { recursive: true, force: true });
  const result = spawnSync(process.execPath, args, { env, encoding: 'utf8', timeout: 180_000 });
  rmSync(WORK_FOLDER, { recursive: true, force: true });
  if (result.status !== 0) throw new Error(`sls package failed (${result.status}):\n${`${result.stdout}${result.stderr}`.slice(-3000)}`);
  process.stdout.write(`sls package --stage prod into ${PACKAGE_DIR}: ${round((Date.now() - started) / 1000, 1)} s\n`);
};

// ---- contributors -----------------------------------------------------------------------------------------

const packageOf = (path: string): string => {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  return match ? match[1]! : path.split('/').slice(0, 2).join('/');
};

const topContributors = (metafile: Metafile, count: number): string => {
  const totals = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, { bytesInOutput }] of Object.entries(output.inputs))
      totals.set(packageOf(path), (totals.get(packageOf(path)) ?? 0) + bytesInOutput);
  }
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, bytes]) => `${name} ${round(bytes / 1024, 1)} KiB`)
    .join(', ');
};

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

// ---- module init ------------------------------------------------------------------------------------------

/** `require()` of the bundle in a fresh process with the given NODE_OPTIONS: wall and CPU (all threads) ms. */
const loadTime = (bundle: string, nodeOptions: string): { wall: number; cpu: number } => {
  const script =
    'const c=process.cpuUsage(),t=process.hrtime.bigint();' +
    `require(${JSON.stringify(bundle)});` +
    'const u=process.cpuUsage(c);process.stdout.write(JSON.stringify({wall:Number(process.hrtime.bigint()-t)/1e6,cpu:(u.user+u.system)/1000}))';
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { env: { PATH: process.env.PATH, NODE_OPTIONS: nodeOptions } }).toString());
};

const dir = mkdtempSync(join(tmpdir(), 'cold-start-'));
try {
  packageFunctions();
  const bundles: Record<string, string> = {};
  for (const fn of FUNCTIONS) {
    const entry = sls.functions[fn]!.handler.replace(/\.[^.]+$/, '');
    const zipPath = join(PACKAGE_DIR, `${fn}.zip`);
    const entries = readZip(readFileSync(zipPath));
    const bundleName = `${entry}${extension}`;
    const bundle = entries.find((e) => e.name === bundleName);
    if (!bundle) throw new Error(`${zipPath} has no ${bundleName}`);
    // The deployed files, as Lambda unpacks them.
    for (const e of entries) {
      const path = join(dir, 'deployed', fn, e.name);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, e.data());
    }
    bundles[fn] = join(dir, 'deployed', fn, bundleName);
    // The same build from serverless.yml's settings, with a metafile kept here only.
    const built = await build({
      ...esbuildOptions,
      entryPoints: [`${entry}.ts`],
      outdir: join(dir, 'built', dirname(entry)),
      metafile: true,
      logLevel: 'error',
    });
    const same = sha256(readFileSync(join(dir, 'built', bundleName))) === sha256(readFileSync(bundles[fn]!));
    if (!same) throw new Error(`${fn}: the bench's build of serverless.yml's settings differs from the packaged ${bundleName}`);
    const kib = (bytes: number) => round(bytes / 1024, 1);
    report({
      name: `cold start ${fn}: deployed zip`,
      value: kib(statSync(zipPath).size),
      unit: 'KiB',
      command: COMMAND,
      note: `sls package --stage prod; in it: ${entries.map((e) => `${e.name} ${kib(e.size)} KiB`).join(', ')}`,
    });
    report({
      name: `cold start ${fn}: bundle size`,
      value: kib(bundle.size),
      unit: 'KiB',
      command: COMMAND,
      note: `${bundleName} as deployed (identical to esbuild with serverless.yml's settings: ${settings}); largest: ${topContributors(built.metafile, 5)}`,
    });
  }
  // Round-robin, so a burst of load on the machine hits every function alike.
  const times = Object.fromEntries(FUNCTIONS.map((fn) => [fn, [] as { wall: number; cpu: number }[]]));
  const loadBefore = loadavg()[0]!.toFixed(1);
  for (let run = 0; run < RUNS; run += 1) {
    for (const fn of FUNCTIONS) {
      times[fn]!.push(loadTime(bundles[fn]!, NODE_OPTIONS));
    }
  }
  const load = `load average ${loadBefore} before, ${loadavg()[0]!.toFixed(1)} after`;
  for (const fn of FUNCTIONS) {
    const wall = times[fn]!.map((t) => t.wall);
    const cpu = times[fn]!.map((t) => t.cpu);
    const note =
      `require() of the deployed ${fn} bundle in a fresh process, NODE_OPTIONS=${JSON.stringify(NODE_OPTIONS)} as serverless.yml sets it; ` +
      `${RUNS} rounds over the ${FUNCTIONS.length} functions in turn; all: ${wall.map((t) => round(t, 0)).join(' ')} ms; ` +
      `CPU time (all threads) median ${round(median(cpu), 0)} ms; ${load}`;
    report({
      name: `cold start ${fn}: module init (median of ${RUNS})`,
      value: round(median(wall), 1),
      unit: 'ms',
      target: `<= ${TARGET_MS[fn] ?? DEFAULT_TARGET_MS} ms`,
      command: COMMAND,
      note,
    });
    report({ name: `cold start ${fn}: module init (minimum of ${RUNS})`, value: round(Math.min(...wall), 1), unit: 'ms', command: COMMAND });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
