// Stack traces of the deployed bundle, read in the TypeScript sources. The functions run without
// --enable-source-maps, which read and parsed each bundle's map at every cold start (docs/performance.md, "Cold
// start as deployed"); instead the map shipped beside the bundle is read here, when the first stack that needs it
// is logged, and kept for the life of the process.
import { readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { dirname, resolve } from 'node:path';

// The running bundle: esbuild's CommonJS output (functions/<name>/handler.cjs, in Lambda as under `sls invoke local`
// and `npm start`) has a __filename. The sources run as ES modules (the tests), which have none and whose stacks
// already name the .ts files: nothing to map there.
const BUNDLE = typeof __filename === 'string' && __filename.endsWith('.cjs') ? __filename : undefined;

interface BundleMap {
  readonly map: SourceMap;
  /** The sources are named relative to the map, which sits beside the bundle. */
  readonly dir: string;
  /** `<bundle>:<line>:<column>` as V8 writes a frame's position (1-based). */
  readonly position: RegExp;
}

/** undefined: not read yet; null: no usable map, stacks stay as they are. */
let bundleMap: BundleMap | null | undefined;

const readBundleMap = (bundle: string): BundleMap | null => {
  try {
    const payload = JSON.parse(readFileSync(`${bundle}.map`, 'utf8')) as SourceMapPayload;
    const escaped = bundle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return { map: new SourceMap(payload), dir: dirname(bundle), position: new RegExp(`${escaped}:(\\d+):(\\d+)`, 'g') };
  } catch {
    return null;
  }
};

const original = (m: BundleMap, position: string, line: string, column: string): string => {
  const entry = m.map.findEntry(Number(line) - 1, Number(column) - 1);
  if (!('originalSource' in entry) || typeof entry.originalSource !== 'string') return position;
  return `${resolve(m.dir, entry.originalSource)}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
};

/**
 * The stack with every frame in the running bundle rewritten to its source file, line and column (function names
 * as they are); unchanged outside a bundle, without a readable map, or if anything fails. Never throws.
 */
export const sourceStack = (stack: string): string => {
  if (BUNDLE === undefined || !stack.includes(BUNDLE)) return stack;
  try {
    bundleMap ??= readBundleMap(BUNDLE);
    if (bundleMap === null) return stack;
    const m = bundleMap;
    return stack.replace(m.position, (position, line: string, column: string) => original(m, position, line, column));
  } catch {
    return stack;
  }
};
