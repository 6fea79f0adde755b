// The local event bus of `npm start`: a small HTTP server speaking EventBridge's PutEvents (JSON 1.1 protocol,
// `X-Amz-Target: AWSEvents.PutEvents`), so the `events` function delivers locally through the very same
// @aws-sdk/client-eventbridge call it makes in AWS (AWS_ENDPOINT_URL_EVENTBRIDGE points it here). It validates
// a request as EventBridge does (1–10 entries, 256 KB in all, Source / DetailType / Detail present, Detail a
// JSON object, the bus known), prints each accepted entry and appends it as one JSON line
// {"Source","DetailType","Detail","Time"} to the events file: the only code that writes that file.
// Under /__bus/ it has test controls (a fault to inject, health).
import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';

export const PUT_EVENTS_TARGET = 'AWSEvents.PutEvents';
const MAX_ENTRIES = 10;
const MAX_BYTES = 256 * 1024;
const BODY_LIMIT = 1024 * 1024;

/** What to answer instead of accepting, for the next `times` PutEvents calls. */
export interface BusFault {
  /** `entries`: every entry fails with InternalFailure (HTTP 200, FailedEntryCount); `unavailable`: HTTP 503. */
  readonly mode: 'entries' | 'unavailable';
  times: number;
}

export interface LineOfEvent {
  readonly Source: string;
  readonly DetailType: string;
  readonly Detail: Record<string, unknown>;
  readonly Time: string;
}

export interface EventBusOptions {
  /** 0 = a free port. */
  readonly port?: number;
  /** The bus names accepted (EventBusName absent means `default`, which is refused unless listed). */
  readonly busNames: readonly string[];
  /** The JSON-lines file every accepted entry is appended to (LOCAL_EVENTS_FILE). */
  readonly file: string;
  readonly log?: (line: string) => void;
}

export interface LocalEventBus {
  readonly url: string;
  readonly port: number;
  /** Makes the next `times` PutEvents calls fail (tests of the delivery's retries). */
  fail(fault: BusFault): void;
  /** PutEvents calls answered so far, accepted or not. */
  calls(): number;
  stop(): Promise<void>;
}

interface EntryInput {
  readonly Source?: unknown;
  readonly DetailType?: unknown;
  readonly Detail?: unknown;
  readonly EventBusName?: unknown;
  readonly Time?: unknown;
  readonly Resources?: unknown;
}

type EntryResult = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

class ClientError extends Error {
  readonly type: string;
  readonly status: number;
  constructor(type: string, message: string, status = 400) {
    super(message);
    this.type = type;
    this.status = status;
  }
}

const utf8 = (value: unknown): number => (typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : 0);

/** EventBridge's entry size: Time 14 bytes, Source, DetailType, Detail and every Resource in UTF-8. */
const entrySize = (e: EntryInput): number =>
  (e.Time !== undefined ? 14 : 0) +
  utf8(e.Source) +
  utf8(e.DetailType) +
  utf8(e.Detail) +
  (Array.isArray(e.Resources) ? e.Resources.reduce((n: number, r) => n + utf8(r), 0) : 0);

const invalid = (parameter: string, reason: string): EntryResult => ({
  ErrorCode: 'InvalidArgument',
  ErrorMessage: `Parameter ${parameter} is not valid. Reason: ${reason}`,
});

/** The time an entry carries (the SDK sends epoch seconds), or now. */
const timeOf = (value: unknown): string => {
  const date = typeof value === 'number' ? new Date(value * 1000) : typeof value === 'string' ? new Date(value) : new Date();
  return Number.isNaN(date.getTime()) ? new Date().toISOString() : date.toISOString();
};

const checkEntry = (options: EventBusOptions, e: EntryInput): EntryResult | { line: LineOfEvent } => {
  const bus = typeof e.EventBusName === 'string' && e.EventBusName !== '' ? e.EventBusName : 'default';
  if (!options.busNames.includes(bus) && !options.busNames.some((name) => bus.endsWith(`:event-bus/${name}`))) {
    return { ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Event bus ${bus} does not exist.` };
  }
  if (typeof e.Source !== 'string' || e.Source === '') return invalid('Source', 'Source is a required argument.');
  if (typeof e.DetailType !== 'string' || e.DetailType === '') return invalid('DetailType', 'DetailType is a required argument.');
  if (typeof e.Detail !== 'string' || e.Detail === '') return invalid('Detail', 'Detail is a required argument.');
  let detail: unknown;
  try {
    detail = JSON.parse(e.Detail);
  } catch {
    return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
  }
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail))
    return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
  return { line: { Source: e.Source, DetailType: e.DetailType, Detail: detail as Record<string, unknown>, Time: timeOf(e.Time) } };
};

/** Request-level checks, as EventBridge makes them before looking at any entry. */
const readEntries = (body: unknown): EntryInput[] => {
  const entries = (body as { Entries?: unknown } | null)?.Entries;
  if (entries === undefined || entries === null) {
    throw new ClientError(
      'ValidationException',
      "1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null",
    );
  }
  if (!Array.isArray(entries)) throw new ClientError('SerializationException', 'Entries must be a list');
  if (entries.length < 1 || entries.length > MAX_ENTRIES) {
    const bound = entries.length < 1 ? 'greater than or equal to 1' : `less than or equal to ${MAX_ENTRIES}`;
    throw new ClientError(
      'ValidationException',
      `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length ${bound}`,
    );
  }
  if (!entries.every((e) => typeof e === 'object' && e !== null && !Array.isArray(e)))
    throw new ClientError('SerializationException', 'Entries must be objects');
  const size = (entries as EntryInput[]).reduce((n, e) => n + entrySize(e), 0);
  if (size > MAX_BYTES) throw new ClientError('ValidationException', 'Total size of the entries in the request is over the limit.');
  return entries as EntryInput[];
};

const readBody = async (request: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > BODY_LIMIT) throw new ClientError('ValidationException', 'Request is too large', 413);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
};

const send = (response: ServerResponse, status: number, body: unknown, errorType?: string) => {
  response.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'x-amzn-requestid': randomUUID(),
    ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
  });
  response.end(JSON.stringify(body));
};

/** One readable line per accepted entry: type, account, tenant, id. */
export const describeEntry = (line: LineOfEvent): string => {
  const d = line.Detail;
  const parts = [line.DetailType, d.authorizerAppid ? String(d.authorizerAppid) : '-', d.tenant ? `tenant=${String(d.tenant)}` : ''];
  return `${parts.filter(Boolean).join('  ')}  eventId=${String(d.eventId ?? '-')}`;
};

export const startEventBus = async (options: EventBusOptions): Promise<LocalEventBus> => {
  const log = options.log ?? (() => undefined);
  const faults: BusFault[] = [];
  let calls = 0;
  mkdirSync(dirname(options.file), { recursive: true });

  const putEvents = (body: unknown): { status: number; json: unknown; errorType?: string } => {
    const fault = faults[0];
    if (fault) {
      fault.times -= 1;
      if (fault.times <= 0) faults.shift();
    }
    if (fault?.mode === 'unavailable')
      return { status: 503, json: { __type: 'ServiceUnavailableException', message: 'injected' }, errorType: 'ServiceUnavailableException' };
    const entries = readEntries(body);
    const results: EntryResult[] = entries.map((entry) => {
      if (fault?.mode === 'entries') return { ErrorCode: 'InternalFailure', ErrorMessage: 'injected failure' };
      const checked = checkEntry(options, entry);
      if (!('line' in checked)) return checked;
      appendFileSync(options.file, `${JSON.stringify(checked.line)}\n`);
      log(describeEntry(checked.line));
      return { EventId: randomUUID() };
    });
    const failed = results.filter((r) => 'ErrorCode' in r).length;
    if (failed > 0) log(`PutEvents: ${failed} of ${results.length} entries refused`);
    return { status: 200, json: { Entries: results, FailedEntryCount: failed } };
  };

  const control = (method: string, path: string, body: unknown) => {
    if (method === 'GET' && path === '/__bus/health') return { status: 200, json: { ok: true, busNames: options.busNames, file: options.file } };
    if (method === 'POST' && path === '/__bus/fail') {
      const { mode, times } = (body ?? {}) as { mode?: unknown; times?: unknown };
      if ((mode !== 'entries' && mode !== 'unavailable') || typeof times !== 'number' || !Number.isInteger(times) || times < 1) {
        return { status: 400, json: { error: 'body: {"mode":"entries"|"unavailable","times":n}' } };
      }
      faults.push({ mode, times });
      return { status: 200, json: { ok: true } };
    }
    if (method === 'GET' && path === '/__bus/calls') return { status: 200, json: { calls } };
    return { status: 404, json: { error: `no such control: ${method} ${path}` } };
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://bus.local');
    let body: unknown;
    try {
      const raw = await readBody(request);
      body = raw.trim() === '' ? {} : JSON.parse(raw);
    } catch (error) {
      if (error instanceof ClientError) return send(response, error.status, { __type: error.type, message: error.message }, error.type);
      return send(response, 400, { __type: 'SerializationException', message: 'the body is not JSON' }, 'SerializationException');
    }
    if (url.pathname.startsWith('/__bus/')) {
      const answer = control(request.method ?? 'GET', url.pathname, body);
      return send(response, answer.status, answer.json);
    }
    const target = request.headers['x-amz-target'];
    if (request.method !== 'POST' || target !== PUT_EVENTS_TARGET) {
      const type = 'UnknownOperationException';
      return send(response, 400, { __type: type, message: `this local bus answers only ${PUT_EVENTS_TARGET}` }, type);
    }
    calls += 1;
    try {
      const answer = putEvents(body);
      send(response, answer.status, answer.json, answer.errorType);
    } catch (error) {
      if (!(error instanceof ClientError)) throw error;
      log(`PutEvents refused: ${error.type}: ${error.message}`);
      send(response, error.status, { __type: error.type, message: error.message }, error.type);
    }
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: Error) => {
      log(`event bus error: ${error.message}`);
      if (!response.headersSent) send(response, 500, { __type: 'InternalException', message: 'internal error' }, 'InternalException');
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    fail: (fault) => faults.push({ ...fault }),
    calls: () => calls,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};
