// `npm run events`: follows the events `npm start`'s local bus delivers (LOCAL_EVENTS_FILE, default
// .local/events.jsonl), one readable line each: time, type, account, tenant, the type's own fields, eventId.
// Prints what is already there, then waits for more; Ctrl-C stops. `--json` prints the lines unchanged.
import { closeSync, existsSync, openSync, readSync, statSync, watchFile } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readLocalEnv } from '../infra/local/local-env.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ENVELOPE = new Set(['eventId', 'componentAppId', 'occurredAt', 'authorizerAppid', 'tenant']);

const short = (value: unknown): string => {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
};

/** One event line of the file as a human reads it. */
export const readable = (line: string): string => {
  let event: { DetailType?: string; Detail?: Record<string, unknown>; Time?: string };
  try {
    event = JSON.parse(line);
  } catch {
    return `(not JSON) ${short(line)}`;
  }
  const d = event.Detail ?? {};
  const time = (event.Time ?? '').replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  const fields = Object.entries(d)
    .filter(([k]) => !ENVELOPE.has(k))
    .map(([k, v]) => `${k}=${short(v)}`);
  const who = [d.authorizerAppid ?? '-', d.tenant ? `tenant=${String(d.tenant)}` : ''].filter(Boolean).join(' ');
  return [time, (event.DetailType ?? '?').padEnd(33), who, ...fields, `eventId=${String(d.eventId ?? '-')}`].join('  ');
};

const follow = (file: string, json: boolean) => {
  let offset = 0;
  let rest = '';
  const drain = () => {
    if (!existsSync(file)) return;
    const size = statSync(file).size;
    if (size < offset) offset = 0; // truncated or replaced: start over
    if (size === offset) return;
    const fd = openSync(file, 'r');
    const buffer = Buffer.alloc(size - offset);
    readSync(fd, buffer, 0, buffer.length, offset);
    closeSync(fd);
    offset = size;
    const lines = (rest + buffer.toString('utf8')).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines.filter(Boolean)) process.stdout.write(`${json ? line : readable(line)}\n`);
  };
  drain();
  watchFile(file, { interval: 250 }, drain);
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const configured = process.env.LOCAL_EVENTS_FILE ?? readLocalEnv().LOCAL_EVENTS_FILE ?? '.local/events.jsonl';
  const file = resolve(ROOT, configured);
  process.stderr.write(`following ${file} (Ctrl-C stops)\n`);
  follow(file, process.argv.includes('--json'));
}
