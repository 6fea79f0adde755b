/**
 * One JSON line per event: `{"level","time","event", ...ids}`. Secrets cannot reach a line by construction:
 *  1. any field whose name ends in secret/token/ticket/code/aeskey/password is replaced by "[redacted]";
 *  2. WeChat's credential shapes (`ticket@@@…`, `queryauthcode@@@…`, `preauthcode@@@…`, `refreshtoken@@@…`)
 *     are masked wherever they appear, including in error messages;
 *  3. every value passed to `protectSecret()` (config secrets, tokens read or written) is masked in the
 *     serialized line, whatever field or message carries it, also glued to other text by a separator
 *     (`/cgi-bin/<token>`, `<token>.json`, `key-<secret>`, `access_token=<token>`). Lookup is by word (runs of
 *     token characters) and, inside a word, by the runs between its separators, so the cost of a line depends
 *     on its length, not on how many values are protected; the set keeps the newest MAX_PROTECTED values (a
 *     warm refresh container registers thousands of tokens over its life).
 */
import { sourceStack } from './stack-trace.ts';

export type LogValue = string | number | boolean | null | undefined | readonly (string | number)[];
export type LogFields = Readonly<Record<string, LogValue>>;
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields, error?: unknown): void;
  error(event: string, fields?: LogFields, error?: unknown): void;
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  base?: LogFields;
  /** Where lines go; stdout by default (CloudWatch Logs in Lambda). */
  sink?: (line: string) => void;
  clock?: () => number;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_SUFFIXES = ['secret', 'token', 'ticket', 'code', 'aeskey', 'password', 'credential'];
const ALLOWED_KEYS = new Set(['errcode', 'statuscode']);
const CREDENTIAL_SHAPES = /\b(ticket|preauthcode|queryauthcode|refreshtoken|authorizer_refresh_token)@@@[^\s"'&<,;]*/gi;
const MIN_PROTECTED_LENGTH = 6;
const MAX_PROTECTED = 20_000;
const REDACTED = '[redacted]';
// Characters WeChat credentials are made of; a protected value is masked wherever it stands as such a run,
// or as a part of one between separators (`access_token=<value>`, `ticket@@@<value>`, `/cgi-bin/<value>`). A
// secret may itself contain separators (`-`, `/`, `.` in tokens and base64), so every run from one separator
// boundary to another is a candidate, the longest first.
const WORD = /[A-Za-z0-9_\-+/=.@:&%~]{6,}/g;
const SEPARATOR_CODES = new Uint8Array(128);
for (const c of '=&:@%~/.-') SEPARATOR_CODES[c.charCodeAt(0)] = 1;
/** Beyond this many separators in one word, only the runs between two neighbouring separators are checked. */
const MAX_CUTS = 48;

const protectedValues = new Set<string>();
// The lengths of the protected values (never shrinks; a stale length only costs a lookup): a run of another
// length cannot be one, so most runs inside a word are skipped without building a string.
const protectedLengths = new Set<number>();
// Values with characters outside WORD cannot be found by word; the few there are get a plain scan.
const irregularValues = new Set<string>();
const REGULAR = /^[A-Za-z0-9_\-+/=.@:&%~]+$/;

/** Registers a secret value so no log line can ever contain it. Cheap to call repeatedly. */
export const protectSecret = (value: string | undefined | null): void => {
  if (!value || value.length < MIN_PROTECTED_LENGTH) return;
  if (!REGULAR.test(value)) {
    if (irregularValues.size < MAX_PROTECTED) irregularValues.add(value);
    return;
  }
  protectedValues.delete(value);
  protectedValues.add(value);
  protectedLengths.add(value.length);
  if (protectedValues.size > MAX_PROTECTED) {
    const oldest = protectedValues.values().next();
    if (!oldest.done) protectedValues.delete(oldest.value);
  }
};

const maskWord = (word: string): string => {
  if (protectedValues.has(word)) return REDACTED;
  const cuts: number[] = [];
  for (let i = 0; i < word.length; i += 1) if (SEPARATOR_CODES[word.charCodeAt(i)] === 1) cuts.push(i);
  if (cuts.length === 0) return word;
  if (cuts.length > MAX_CUTS) {
    return word
      .split(/([=&:@%~/.-]+)/)
      .map((part) => (protectedValues.has(part) ? REDACTED : part))
      .join('');
  }
  const starts = [0, ...cuts.map((c) => c + 1)];
  const ends = [...cuts, word.length].reverse();
  let out = '';
  let done = 0;
  for (const start of starts) {
    if (start < done) continue;
    const end = ends.find((e) => protectedLengths.has(e - start) && protectedValues.has(word.slice(start, e)));
    if (end === undefined) continue;
    out += `${word.slice(done, start)}${REDACTED}`;
    done = end;
  }
  return done === 0 ? word : out + word.slice(done);
};

const isSecretKey = (key: string): boolean => {
  const k = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  return !ALLOWED_KEYS.has(k) && SECRET_SUFFIXES.some((s) => k.endsWith(s));
};

const maskText = (text: string): string => {
  let out = text.replace(CREDENTIAL_SHAPES, `$1@@@${REDACTED}`);
  if (protectedValues.size > 0) out = out.replace(WORD, maskWord);
  for (const secret of irregularValues) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
};

/**
 * The error's fields, and its cause's. `error` lines (a failure someone must look at) also carry the stack, in
 * the TypeScript sources (lib/kernel/stack-trace.ts); `warn` lines are expected outcomes whose fields say enough,
 * and a flood of them (rejected pushes) should not cost a stack each.
 */
const describeError = (error: unknown, withStack: boolean): Record<string, unknown> => {
  if (!(error instanceof Error)) return { message: String(error) };
  const e = error as Error & { errcode?: unknown; api?: unknown; reason?: unknown; code?: unknown };
  const out: Record<string, unknown> = { name: e.name, message: e.message };
  if (e.api !== undefined) out.api = e.api;
  if (e.errcode !== undefined) out.errcode = e.errcode;
  if (e.reason !== undefined) out.reason = e.reason;
  if (typeof e.code === 'number' || typeof e.code === 'string') out.errorCode = e.code;
  if (withStack && typeof e.stack === 'string') out.stack = sourceStack(e.stack);
  if (e.cause !== undefined) out.cause = describeError(e.cause, withStack);
  return out;
};

const formatLine = (level: LogLevel, event: string, fields: LogFields, time: number, error?: unknown): string => {
  const record: Record<string, unknown> = { level, time: new Date(time).toISOString(), event };
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    record[key] = isSecretKey(key) ? REDACTED : value;
  }
  if (error !== undefined) record.error = describeError(error, level === 'error');
  return maskText(JSON.stringify(record));
};

export const createLogger = (options: LoggerOptions = {}): Logger => {
  const threshold = LEVELS[options.level ?? 'info'];
  const sink = options.sink ?? ((line: string) => process.stdout.write(`${line}\n`));
  const clock = options.clock ?? Date.now;
  const base = options.base ?? {};
  const write = (level: LogLevel, event: string, fields: LogFields = {}, error?: unknown) => {
    if (LEVELS[level] < threshold) return;
    sink(formatLine(level, event, { ...base, ...fields }, clock(), error));
  };
  return {
    debug: (event, fields) => write('debug', event, fields),
    info: (event, fields) => write('info', event, fields),
    warn: (event, fields, error) => write('warn', event, fields, error),
    error: (event, fields, error) => write('error', event, fields, error),
    child: (fields) => createLogger({ ...options, base: { ...base, ...fields } }),
  };
};

/** A logger that keeps its lines in memory, for tests that assert on what was logged. */
export const createMemoryLogger = (level: LogLevel = 'debug'): Logger & { lines: string[]; records: () => Record<string, unknown>[] } => {
  const lines: string[] = [];
  const logger = createLogger({ level, sink: (line) => lines.push(line) });
  return Object.assign(logger, { lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) });
};
