// The HTTP side: node:http on 127.0.0.1, WeChat's wire conventions (POST JSON in, HTTP 200 JSON out, errors as
// errcode/errmsg), plus the test switches every call passes through: counting, injected errors, latency.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { ApiRoute } from './api.ts';
import { errorBody, WeChatFault, type SimState } from './state.ts';

export interface CallRecord {
  /** Route name, e.g. `api_component_token`; never a token, ticket or code. */
  readonly api: string;
  readonly status: number;
  /** 0 on success. */
  readonly errcode: number;
  /** Names of the query parameters sent (never their values), e.g. to check which token slot a call used. */
  readonly params: readonly string[];
  readonly at: number;
}

export interface Injection {
  /** Route name, or `*` for every API. */
  readonly api: string;
  readonly errcode: number;
  readonly errmsg?: string;
  /** Answer with this HTTP status and a non-JSON body instead (a gateway failure); errcode is then ignored. */
  readonly httpStatus?: number;
  /** Only calls whose JSON body names this `authorizer_appid` (one account failing while the others work). */
  readonly authorizerAppid?: string;
  /** How many matching calls still get this answer. */
  times: number;
}

export interface Traffic {
  readonly counts: Map<string, number>;
  readonly log: CallRecord[];
  readonly injections: Injection[];
  defaultLatencyMs: number;
  readonly latencyMs: Map<string, number>;
}

export const createTraffic = (latencyMs = 0): Traffic => ({
  counts: new Map(),
  log: [],
  injections: [],
  defaultLatencyMs: latencyMs,
  latencyMs: new Map(),
});

const LOG_LIMIT = 1000;
const BODY_LIMIT = 1024 * 1024;

export interface ControlAnswer {
  readonly status: number;
  readonly json: unknown;
}

export type ControlHandler = (method: string, url: URL, body: unknown) => Promise<ControlAnswer>;

export interface ServerParts {
  readonly state: SimState;
  readonly routes: ReadonlyMap<string, ApiRoute>;
  readonly traffic: Traffic;
  readonly control: ControlHandler;
  readonly log: (line: string) => void;
}

interface Answer {
  readonly status: number;
  readonly body: string | Buffer;
  readonly errcode: number;
  readonly contentType?: string;
}

const json = (status: number, value: unknown, errcode = 0): Answer => ({ status, body: JSON.stringify(value), errcode });

const readBody = async (request: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > BODY_LIMIT) throw new WeChatFault(47001);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
};

/** An empty body reads as {}, so the handler reports the missing field as WeChat would. */
export const parseJsonObject = (raw: string): Record<string, unknown> => {
  if (raw.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new WeChatFault(47001, 'data format error');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new WeChatFault(47001, 'data format error');
  return value as Record<string, unknown>;
};

const bodyAppid = (raw: string): string | undefined => {
  try {
    const appid = (JSON.parse(raw) as { authorizer_appid?: unknown }).authorizer_appid;
    return typeof appid === 'string' ? appid : undefined;
  } catch {
    return undefined;
  }
};

const takeInjection = (traffic: Traffic, api: string, raw: string): Injection | undefined => {
  const appid = traffic.injections.some((i) => i.authorizerAppid !== undefined) ? bodyAppid(raw) : undefined;
  const index = traffic.injections.findIndex(
    (i) => i.times > 0 && (i.api === api || i.api === '*') && (i.authorizerAppid === undefined || i.authorizerAppid === appid),
  );
  const injection = traffic.injections[index];
  if (!injection) return undefined;
  injection.times -= 1;
  if (injection.times <= 0) traffic.injections.splice(index, 1);
  return injection;
};

const answerApi = (parts: ServerParts, route: ApiRoute, method: string, url: URL, raw: string): Answer => {
  const injected = takeInjection(parts.traffic, route.name, raw);
  if (injected?.httpStatus) {
    return { status: injected.httpStatus, body: `<html><body>${injected.httpStatus}</body></html>`, errcode: 0, contentType: 'text/html' };
  }
  if (injected) return json(200, errorBody(injected.errcode, injected.errmsg), injected.errcode);
  try {
    const expected = route.method ?? 'POST';
    if (method !== expected) throw new WeChatFault(expected === 'GET' ? 43001 : 43002);
    const body = expected === 'POST' ? parseJsonObject(raw) : {};
    const result = route.handle({ state: parts.state, body, query: url.searchParams, raw });
    if ('binary' in result && Buffer.isBuffer(result.binary))
      return { status: 200, body: result.binary, errcode: 0, contentType: String(result.contentType) };
    return json(200, result);
  } catch (error) {
    if (!(error instanceof WeChatFault)) throw error;
    return json(200, errorBody(error.errcode, error.message), error.errcode);
  }
};

const record = (traffic: Traffic, api: string, answer: Answer, at: number, url: URL): void => {
  traffic.counts.set(api, (traffic.counts.get(api) ?? 0) + 1);
  traffic.log.push({ api, status: answer.status, errcode: answer.errcode, at, params: [...new Set(url.searchParams.keys())] });
  if (traffic.log.length > LOG_LIMIT) traffic.log.splice(0, traffic.log.length - LOG_LIMIT);
};

const send = (response: ServerResponse, answer: Answer): void => {
  response.writeHead(answer.status, { 'content-type': answer.contentType ?? 'application/json; charset=utf-8' });
  response.end(answer.body);
};

const handle = async (parts: ServerParts, request: IncomingMessage, response: ServerResponse): Promise<void> => {
  const url = new URL(request.url ?? '/', 'http://simulator.local');
  const method = request.method ?? 'GET';
  let raw: string;
  try {
    raw = await readBody(request);
  } catch {
    return send(response, json(413, errorBody(47001), 47001));
  }
  if (url.pathname.startsWith('/__sim/')) {
    let body: unknown;
    try {
      body = method === 'GET' ? {} : parseJsonObject(raw);
    } catch {
      return send(response, json(400, { error: 'body must be a JSON object' }));
    }
    const answer = await parts.control(method, url, body);
    return send(response, json(answer.status, answer.json));
  }
  const route = parts.routes.get(url.pathname);
  if (!route) return send(response, json(404, { errcode: 404, errmsg: `no such api: ${url.pathname}` }, 404));
  const latency = parts.traffic.latencyMs.get(route.name) ?? parts.traffic.defaultLatencyMs;
  if (latency > 0) await delay(latency);
  const answer = answerApi(parts, route, method, url, raw);
  record(parts.traffic, route.name, answer, parts.state.clock(), url);
  if (answer.errcode !== 0) parts.log(`api ${route.name} → errcode ${answer.errcode}`);
  send(response, answer);
};

/** Starts listening on 127.0.0.1:port (0 = a free port) and resolves with the bound port. */
export const listen = async (parts: ServerParts, port: number): Promise<{ server: Server; port: number }> => {
  const server = createServer((request, response) => {
    handle(parts, request, response).catch((error: Error) => {
      parts.log(`simulator error: ${error.name}: ${error.message}`);
      if (!response.headersSent) send(response, json(500, errorBody(-1), -1));
      else response.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : port };
};

export const close = (server: Server): Promise<void> =>
  new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
