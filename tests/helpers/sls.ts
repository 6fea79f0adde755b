// `sls invoke local` as a newcomer runs it, for the end-to-end tests: the project's serverless CLI under a
// timeout (a handler that throws at import makes it hang forever, docs/architecture.md §5), with local credentials.
import { simulatorEnv } from '../../infra/local/credentials.ts';
import { startProc, waitForExit } from './proc.ts';

export const INVOKE_TIMEOUT_MS = 45_000;
/** The link key of local invocations in tests (a test value; `npm start` generates its own). */
export const TEST_LINK_SIGNING_KEY = 'testLinkSigningKey-0123456789abcdefghijklmnopq';

/** The environment `npm start` would hand a terminal: the simulator's credentials and local AWS keys. */
export const localInvokeEnv = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...simulatorEnv(),
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: 'ap-east-1',
    LINK_SIGNING_KEY: TEST_LINK_SIGNING_KEY,
    ...extra,
  };
  // Recorded samples have fixed timestamps: the IS_LOCAL default (freshness check off) is what lets them replay.
  delete env.PUSH_MAX_SKEW_S;
  return env;
};

/** Runs `sls invoke local -f <fn> …args`; resolves with its exit code and whole output. */
export const invokeLocal = async (
  fn: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = INVOKE_TIMEOUT_MS,
): Promise<{ code: number | null; output: string }> => {
  const proc = startProc(process.execPath, ['node_modules/serverless/bin/serverless.js', 'invoke', 'local', '-f', fn, ...args], env);
  try {
    const code = await waitForExit(proc, timeoutMs, `sls invoke local -f ${fn}`);
    return { code, output: proc.output.join('\n') };
  } finally {
    await proc.stop(2000);
  }
};
