// The variables `npm start` writes to .local/env (or LOCAL_ENV_FILE) for tools run in another terminal.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const LOCAL_ENV_FILE = fileURLToPath(new URL('../../.local/env', import.meta.url));

/** The KEY=value lines of the file; empty when `npm start` has not written one. */
export const readLocalEnv = (file = process.env.LOCAL_ENV_FILE ?? LOCAL_ENV_FILE): Record<string, string> => {
  if (!existsSync(file)) return {};
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
};
