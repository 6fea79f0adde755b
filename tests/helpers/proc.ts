// Child processes for end-to-end tests: output captured line by line, waits on a line, and clean stops.
import { spawn, type ChildProcess } from 'node:child_process';

export interface Proc {
  readonly child: ChildProcess;
  readonly output: string[];
  waitFor(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** SIGINT the process group, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

export const startProc = (command: string, args: string[], env: NodeJS.ProcessEnv, cwd = process.cwd()): Proc => {
  const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output.push(...chunk.toString().split('\n').filter(Boolean));
    for (const w of waiters) w();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output,
    waitFor: (pattern, timeoutMs) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const line = output.find((l) => pattern.test(l));
          if (line) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(line);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${pattern}; last output:\n${output.slice(-40).join('\n')}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    stop: async (graceMs = 15_000) => {
      if (child.exitCode === null && child.pid) {
        process.kill(-child.pid, 'SIGINT');
        const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), graceMs);
        const code = await exited;
        clearTimeout(timer);
        return code;
      }
      return child.exitCode;
    },
  };
};

/** True while some process still has the process group `pgid`. */
export const groupAlive = (pgid: number): boolean => {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Resolves with the exit code; rejects (with the output so far) when the process outlives `timeoutMs`. */
export const waitForExit = (proc: Proc, timeoutMs: number, what = 'the process'): Promise<number | null> =>
  new Promise((resolve, reject) => {
    if (proc.child.exitCode !== null) return resolve(proc.child.exitCode);
    const timer = setTimeout(() => reject(new Error(`${what} did not finish in ${timeoutMs} ms:\n${proc.output.join('\n')}`)), timeoutMs);
    proc.child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
