// Twelve `sls invoke local -f token` at once against a running `npm start`, as an operator's scripts would run
// them from another terminal (the environment `npm start` writes to its env file). Each bundles into a work
// folder of its own (infra/local/isolated-invoke.ts) instead of the `.esbuild` folder `npm start` rebuilds
// into, so none loads a half-written bundle, each exits with the component token, and none leaves its
// folder or an esbuild process behind. Wall times are printed, not asserted; the bound below is a hang guard.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../infra/local/dynamodb.ts';
import { readLocalEnv } from '../../infra/local/local-env.ts';
import { startProc, type Proc } from '../helpers/proc.ts';
import { invokeLocal } from '../helpers/sls.ts';

const INVOKES = 12;
/** Far above what one invoke takes; only a hung invoke reaches it. */
const HANG_GUARD_MS = 240_000;

const invokeFolders = () => (existsSync('.esbuild') ? readdirSync('.esbuild').filter((f) => f.startsWith('invoke-')) : []);

describe('sls invoke local, twelve at once, against npm start', () => {
  let start: Proc | undefined;
  let env: NodeJS.ProcessEnv;
  let foldersBefore: string[];

  before(
    async () => {
      const [port, dynamoPort, simPort, lambdaPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
      const envFile = join(tmpdir(), `wechat-component-env-invoke-${process.pid}`);
      const startEnv: NodeJS.ProcessEnv = {
        ...process.env,
        PORT: String(port),
        DYNAMODB_PORT: String(dynamoPort),
        SIMULATOR_PORT: String(simPort),
        OFFLINE_LAMBDA_PORT: String(lambdaPort),
        LOCAL_ENV_FILE: envFile,
        SIMULATED_MINI_PROGRAMS: '0',
      };
      for (const k of ['DYNAMODB_ENDPOINT', 'WECHAT_API_BASE_URL', 'PUBLIC_BASE_URL', 'ESBUILD_WORK_FOLDER']) delete startEnv[k];
      start = startProc(process.execPath, ['infra/local/start.ts'], startEnv);
      await start.waitFor(/\[start\] ready in/, 120_000);
      await start.waitFor(/verify_ticket\.saved/, 60_000);
      // What an operator does in another terminal: `set -a; . .local/env; set +a`.
      env = { ...process.env, ...readLocalEnv(envFile) };
      delete env.ESBUILD_WORK_FOLDER;
      foldersBefore = invokeFolders();
    },
    { timeout: 200_000 },
  );
  after(async () => {
    await start?.stop();
  });

  it('answers every one of them with the same component token, exit code 0, and leaves no work folder behind', async (t) => {
    // Act
    const started = Date.now();
    const runs = await Promise.all(
      Array.from({ length: INVOKES }, async () => {
        const run = await invokeLocal('token', ['--data', '{}'], env, HANG_GUARD_MS);
        return { ...run, seconds: (Date.now() - started) / 1000 };
      }),
    );
    // Assess
    t.diagnostic(`exit times (s): ${runs.map((r) => r.seconds.toFixed(1)).join(', ')}`);
    for (const run of runs) assert.equal(run.code, 0, run.output.slice(-2000));
    const tokens = runs.map((r) => /"accessToken": "([^"]+)"/.exec(r.output)?.[1]);
    assert.ok(
      tokens.every((token) => token && token.length >= 16),
      'every invoke printed a token',
    );
    assert.equal(new Set(tokens).size, 1, 'one component token for all: one upstream call');
    assert.ok(!runs.some((r) => /Exception encountered when loading|does not point function property/.test(r.output)));
    assert.deepEqual(
      invokeFolders().filter((f) => !foldersBefore.includes(f)),
      [],
    );
  });

  it('ends an invoke that cannot finish in INVOKE_LOCAL_TIMEOUT_S with a clear message and exit code 1, and cleans up', async () => {
    // Prepare: a DynamoDB that accepts connections and never answers holds the token function for 3 × 5 s.
    const blackHole = createServer((socket) => socket.on('data', () => undefined));
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const port = (blackHole.address() as { port: number }).port;
    const stuck = { ...env, DYNAMODB_ENDPOINT: `http://127.0.0.1:${port}`, INVOKE_LOCAL_TIMEOUT_S: '10' };
    // Act
    const run = await invokeLocal('token', ['--data', '{}'], stuck, HANG_GUARD_MS);
    blackHole.close();
    // Assess
    assert.equal(run.code, 1, run.output.slice(-2000));
    assert.match(run.output, /sls invoke local -f token did not finish within 10 s/);
    assert.deepEqual(
      invokeFolders().filter((f) => !foldersBefore.includes(f)),
      [],
    );
  });
});
