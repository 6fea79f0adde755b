// Stacks of a deployed bundle, mapped back to the sources through the .map beside it (lib/kernel/stack-trace.ts).
// Each case builds its own small bundle with esbuild and serverless.yml's settings (linked map, no sources in it),
// loads it as Lambda does (require) and logs through the real logger bundled in it: every bundle has its own copy
// of the module, so each reads its own map.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';
import { parse } from 'yaml';
import { context } from '../../helpers/context.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const sls = parse(readFileSync(join(ROOT, 'serverless.yml'), 'utf8'), { logLevel: 'error' }) as { custom: { esbuild: BuildOptions } };
const { sourcemap, sourcesContent, minifyWhitespace, minifySyntax, target, platform, format } = sls.custom.esbuild;
const dir = mkdtempSync(join(tmpdir(), 'stack-trace-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// The code that fails, as a source file of its own: the line of the throw is what a mapped stack must name. A
// second entry puts it behind lambda()'s middleware, for the errors that reach the Lambda runtime.
const SOURCE = join(dir, 'src', 'failing.ts');
const EDGE_SOURCE = join(dir, 'src', 'edge.ts');
mkdirSync(join(dir, 'src'));
writeFileSync(
  SOURCE,
  [
    `import { createLogger } from ${JSON.stringify(join(ROOT, 'lib/kernel/logger.ts'))};`,
    'export function placeOrder(quantity: number): number {',
    '  if (quantity > 3) throw new RangeError(`too many: ${quantity}`);',
    '  return quantity;',
    '}',
    '/** Logs the failure at error level and hands back the error (its stack as V8 wrote it). */',
    'export const logFailure = (sink: (line: string) => void): unknown => {',
    '  try {',
    '    placeOrder(4);',
    '  } catch (error) {',
    "    createLogger({ sink }).error('order.failed', {}, error);",
    '    return error;',
    '  }',
    '};',
  ].join('\n'),
);
writeFileSync(
  EDGE_SOURCE,
  [
    `import { createLogger } from ${JSON.stringify(join(ROOT, 'lib/kernel/logger.ts'))};`,
    `import { withEdge } from ${JSON.stringify(join(ROOT, 'lib/runtime/lambda.ts'))};`,
    "import { placeOrder } from './failing.ts';",
    'export const handler = withEdge(async () => placeOrder(5), undefined, { logger: () => createLogger(), secretsStale: () => undefined });',
  ].join('\n'),
);
const THROW_LINE =
  readFileSync(SOURCE, 'utf8')
    .split('\n')
    .findIndex((l) => l.includes('throw new RangeError')) + 1;

interface Bundle {
  readonly path: string;
  readonly logFailure: (sink: (line: string) => void) => Error;
  readonly handler: (event: unknown, context: unknown) => Promise<unknown>;
}

/** An entry bundled as serverless.yml bundles a function, into a folder of its own: the bundle's path. */
const bundleFile = async (name: string, entry = SOURCE): Promise<string> => {
  const path = join(dir, name, 'handler.cjs');
  await build({
    entryPoints: [entry],
    outfile: path,
    bundle: true,
    sourcemap,
    sourcesContent,
    minifyWhitespace,
    minifySyntax,
    target,
    platform,
    format,
    logLevel: 'error',
  });
  return path;
};

/** Loads a bundle as Lambda does. */
const load = (path: string): Bundle => ({ path, ...(createRequire(import.meta.url)(path) as Omit<Bundle, 'path'>) });

/** Bundles and loads an entry; `map` changes the .map first. */
const bundle = async (name: string, map?: (path: string) => void, entry = SOURCE): Promise<Bundle> => {
  const path = await bundleFile(name, entry);
  map?.(`${path}.map`);
  return load(path);
};

const loggedStack = (b: Bundle): { logged: string; thrown: string } => {
  const lines: string[] = [];
  const error = b.logFailure((line) => lines.push(line));
  const record = JSON.parse(lines[0]!) as { error: { stack: string } };
  return { logged: record.error.stack, thrown: String(error.stack) };
};

describe('stack traces of a deployed bundle', () => {
  it('names the source file and line of each frame in the bundle when an error is logged, keeping the function names', async () => {
    // Prepare
    const b = await bundle('mapped');
    // Act
    const { logged, thrown } = loggedStack(b);
    // Assess
    assert.match(thrown, /handler\.cjs:\d+:\d+/, 'V8 names the bundle');
    assert.match(logged.split('\n')[0]!, /^RangeError: too many: 4$/);
    assert.ok(logged.includes(`at placeOrder (${SOURCE}:${THROW_LINE}:`), logged);
    assert.match(logged, new RegExp(`at (Object\\.)?logFailure \\(${SOURCE.replaceAll('.', '\\.')}:`), logged);
    assert.ok(!logged.includes(b.path), `no frame left in the bundle:\n${logged}`);
  });

  it('reads the map when the first stack is logged, not when the bundle loads, and keeps it for the process', async () => {
    // Prepare: the map is away while the bundle loads, back for the first error, gone again for the second.
    const path = await bundleFile('lazy');
    const map = readFileSync(`${path}.map`);
    rmSync(`${path}.map`);
    const b = load(path);
    writeFileSync(`${path}.map`, map);
    // Act
    const first = loggedStack(b).logged;
    rmSync(`${path}.map`);
    const second = loggedStack(b).logged;
    // Assess
    assert.ok(first.includes(`${SOURCE}:${THROW_LINE}:`), first);
    assert.ok(second.includes(`${SOURCE}:${THROW_LINE}:`), second);
  });

  it('puts the stack of an error no edge answered in the sources before it reaches the Lambda runtime', async () => {
    // Prepare
    const b = await bundle('escaping', undefined, EDGE_SOURCE);
    // Act
    const error = await b.handler({}, context).then(
      () => assert.fail('the handler should fail'),
      (e: Error) => e,
    );
    // Assess
    assert.equal(error.message, 'too many: 5');
    assert.ok(String(error.stack).includes(`at placeOrder (${SOURCE}:${THROW_LINE}:`), error.stack);
  });

  it('logs the stack as V8 wrote it when the bundle has no map', async () => {
    // Prepare
    const b = await bundle('no-map', (map) => rmSync(map));
    // Act
    const { logged, thrown } = loggedStack(b);
    // Assess
    assert.equal(logged, thrown);
    assert.ok(logged.includes(b.path));
  });

  it('logs the stack as V8 wrote it when the map is not JSON or not a source map', async () => {
    for (const [name, text] of [
      ['corrupt-map', '{"version":3,"mappings":"AAAA,'],
      ['not-a-map', '{"version":3,"sources":"x","mappings":42}'],
    ] as const) {
      // Prepare
      const b = await bundle(name, (map) => writeFileSync(map, text));
      // Act
      const { logged, thrown } = loggedStack(b);
      // Assess
      assert.equal(logged, thrown, name);
    }
  });
});
