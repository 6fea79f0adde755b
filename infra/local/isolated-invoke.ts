// A local serverless plugin for `sls invoke local`: every invoke bundles into a work folder of its own and
// always ends. serverless-esbuild otherwise bundles every invoke into the one shared `.esbuild` folder that a
// running `npm start` also rebuilds into, so concurrent invokes load each other's half-written handler.cjs
// ("Exception encountered when loading …") and then hang forever (docs/architecture.md §5). With this plugin:
//  - no ESBUILD_WORK_FOLDER in the environment: the invoke uses .esbuild/invoke-<pid>-<random>, removed on exit;
//  - an invoke still running after INVOKE_LOCAL_TIMEOUT_S (default 90 s) prints why and exits 1.
// Every other command (package, deploy, offline) is left exactly as it is.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

interface Serverless {
  readonly serviceDir?: string;
  readonly config?: { readonly servicePath?: string };
  readonly processedInput?: { readonly commands?: readonly string[] };
  readonly service: { custom?: { esbuild?: { outputWorkFolder?: string } } };
}

/** Default bound on one local invoke: above the longest function timeout (65 s) plus bundling on a loaded machine. */
export const INVOKE_LOCAL_TIMEOUT_S = 90;

export default class IsolatedInvoke {
  readonly hooks: Record<string, () => void>;

  constructor(serverless: Serverless, options: { function?: string }) {
    const commands = serverless.processedInput?.commands ?? [];
    const isInvokeLocal = commands[0] === 'invoke' && commands[1] === 'local';
    this.hooks = {};
    if (!isInvokeLocal) return;
    const dir = serverless.serviceDir ?? serverless.config?.servicePath ?? process.cwd();
    if (!process.env.ESBUILD_WORK_FOLDER) {
      const folder = join('.esbuild', `invoke-${process.pid}-${randomBytes(4).toString('hex')}`);
      serverless.service.custom ??= {};
      serverless.service.custom.esbuild = { ...serverless.service.custom.esbuild, outputWorkFolder: folder };
      // Synchronous, so it also runs when serverless exits the process itself (an error, or the timeout below).
      process.once('exit', () => rmSync(join(dir, folder), { recursive: true, force: true }));
    }
    const limitS = Number(process.env.INVOKE_LOCAL_TIMEOUT_S) || INVOKE_LOCAL_TIMEOUT_S;
    this.hooks['before:invoke:local:invoke'] = () => {
      // Unref'd: a finished invoke exits at once; only a process kept alive by something else sees it fire.
      setTimeout(() => {
        process.stderr.write(
          `sls invoke local -f ${options.function ?? '?'} did not finish within ${limitS} s (INVOKE_LOCAL_TIMEOUT_S); ` +
            'giving up. Is DynamoDB Local or the simulator running (npm start), and the environment from .local/env loaded?\n',
        );
        process.exit(1);
      }, limitS * 1000).unref();
    };
  }
}
