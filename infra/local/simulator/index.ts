// The local WeChat simulator: a real HTTP server on 127.0.0.1 standing in for api.weixin.qq.com, pushing
// tickets and authorization events to the platform's event URL like WeChat. Used by `npm start` (when
// WECHAT_API_BASE_URL is unset), by integration and end-to-end tests, and by the benchmarks.
// Every control is also served as JSON under /__sim/ (control.ts) for tests that drive it from another process.
import { systemClock, type Clock } from '../../../lib/clock.ts';
import { keysFrom, type MessageKeys } from '../../../lib/wechat/crypto.ts';
import { SIMULATOR_COMPONENT } from '../credentials.ts';
import { createApiRoutes } from './api.ts';
import { createControl } from './control.ts';
import { createOwner, landingQuery, type AuthorizeInput, type AuthorizeResult } from './owner.ts';
import { createPusher, ticketXml, type Delivery, type PushResult } from './pusher.ts';
import { close, createTraffic, listen, type CallRecord, type Injection } from './server.ts';
import {
  createState,
  dropAuthorizerTokens,
  dropComponentTokens,
  nowS,
  opaque,
  type AccountKind,
  type ComponentCredentials,
  type CustomerMessage,
} from './state.ts';

export type { AuthorizeInput, AuthorizeResult, CallRecord, ComponentCredentials, CustomerMessage, Delivery, PushResult };
export { landingQuery };

export interface SimulatorOptions {
  /** 0 (default) = a free port. */
  port?: number;
  /** The credentials the simulator expects and seals pushes with; default SIMULATOR_COMPONENT. */
  component?: ComponentCredentials;
  /** The platform's 授权事件接收URL, e.g. http://127.0.0.1:3000/wechat/component/events. */
  pushUrl?: string;
  /** Push a ticket right after start, retrying while the platform is not up yet (default true). */
  autoPush?: boolean;
  /** Ticket push interval (default 600000 as WeChat; 0 = no timer). */
  ticketIntervalMs?: number;
  /** expires_in of every access token (default 7200). */
  tokenTtlS?: number;
  /** Delay before answering each API call (default 0). */
  latencyMs?: number;
  /** One line per push and per failed API call; never a token, ticket or code. */
  log?: (line: string) => void;
  /** Drives every expiry (epoch ms); default the system clock. */
  clock?: Clock;
}

export interface InjectInput {
  /** Route name (`api_component_token`, `message_custom_send`, …) or `*`. */
  api: string;
  errcode?: number;
  errmsg?: string;
  /** Matching calls answered this way before normal behaviour resumes (default 1). */
  times?: number;
  /** Answer with this HTTP status and an HTML body instead of a WeChat error. */
  httpStatus?: number;
}

export interface AccountView {
  readonly appid: string;
  readonly kind: AccountKind;
  readonly userName: string;
  readonly nickName: string;
  readonly status: 'authorized' | 'unauthorized';
  readonly refreshToken: string | undefined;
  readonly funcInfo: readonly number[];
  readonly authTime: number;
}

export interface Simulator {
  /** Base URL to use as WECHAT_API_BASE_URL. */
  readonly url: string;
  readonly port: number;
  readonly component: ComponentCredentials;
  /** The component's message keys, for sealing further kinds of pushes (see deliver). */
  readonly keys: MessageKeys;
  stop(): Promise<void>;
  /** Issues a new ticket (valid 12 h) and pushes it to pushUrl. */
  pushTicket(): Promise<PushResult>;
  /** The newest ticket issued, for callers that exchange one without running the push intake. */
  latestTicket(): string | undefined;
  /** Seals any inner XML as WeChat would and POSTs it to url (e.g. a message to the message URL). */
  deliver(url: string, innerXml: string, delivery: Delivery): Promise<PushResult>;
  authorize(input?: AuthorizeInput): Promise<AuthorizeResult>;
  reauthorize(authorizerAppid: string, input?: Omit<AuthorizeInput, 'authorizerAppid' | 'kind'>): Promise<AuthorizeResult>;
  unauthorize(authorizerAppid: string, options?: { push?: boolean }): Promise<{ pushStatus?: number }>;
  landingQuery(authorizationCode: string): string;
  /** Calls of one API (route name), or of all of them. */
  calls(api?: string): number;
  /** The most recent calls (up to 1000), oldest first. */
  readonly callLog: readonly CallRecord[];
  resetCounters(): void;
  inject(input: InjectInput): void;
  setLatency(ms: number, api?: string): void;
  customerMessages(): CustomerMessage[];
  expireComponentTokens(): void;
  expireAuthorizerToken(authorizerAppid: string): void;
  setRefreshTokenRotation(on: boolean): void;
  accounts(): AccountView[];
}

const STARTUP_ATTEMPTS = 10;
const STARTUP_RETRY_MS = 500;

export const startSimulator = async (options: SimulatorOptions = {}): Promise<Simulator> => {
  const component = options.component ?? SIMULATOR_COMPONENT;
  const log = options.log ?? (() => undefined);
  const state = createState(component, options.clock ?? systemClock, options.tokenTtlS ?? 7200);
  const keys = keysFrom(component, component.appId);
  const aborter = new AbortController();
  const pusher = createPusher(keys, log, aborter.signal);
  const inflight = new Set<Promise<unknown>>();
  const track = <T>(work: Promise<T>): Promise<T> => {
    inflight.add(work);
    void work.finally(() => inflight.delete(work)).catch(() => undefined);
    return work;
  };
  const { pushUrl } = options;

  const pushTicket = (attempts = 1): Promise<PushResult> => {
    const ticket = opaque('ticket@@@', 64);
    state.tickets.set(ticket, state.clock());
    if (!pushUrl) {
      log('push component_verify_ticket skipped (no push URL)');
      return Promise.resolve({ status: 0, body: 'no push URL' });
    }
    const xml = ticketXml(component.appId, nowS(state), ticket);
    const delivery = { label: 'component_verify_ticket', timestamp: nowS(state) };
    return track(pusher.deliverPatiently(pushUrl, xml, delivery, attempts, STARTUP_RETRY_MS));
  };

  const traffic = createTraffic(options.latencyMs ?? 0);
  const owner = createOwner(state, pusher, pushUrl, log);
  const routes = createApiRoutes({ startPushTicket: () => setImmediate(() => void pushTicket()) });
  let simulator: Simulator | undefined;
  const control = createControl(() => simulator!);
  const { server, port } = await listen({ state, routes, traffic, control, log }, options.port ?? 0);
  const interval = options.ticketIntervalMs ?? 600_000;
  const timer = interval > 0 && pushUrl ? setInterval(() => void pushTicket(), interval) : undefined;
  timer?.unref();

  simulator = {
    url: `http://127.0.0.1:${port}`,
    port,
    component,
    keys,
    stop: async () => {
      clearInterval(timer);
      aborter.abort();
      await Promise.allSettled([...inflight]);
      await pusher.close();
      await close(server);
    },
    pushTicket: () => pushTicket(),
    latestTicket: () => [...state.tickets.keys()].at(-1),
    deliver: (url, innerXml, delivery) => track(pusher.deliver(url, innerXml, delivery)),
    authorize: (input) => track(owner.authorize(input)),
    reauthorize: (appid, input) => track(owner.reauthorize(appid, input)),
    unauthorize: (appid, unauthorizeOptions) => track(owner.unauthorize(appid, unauthorizeOptions)),
    landingQuery,
    calls: (api) => (api === undefined ? [...traffic.counts.values()].reduce((a, b) => a + b, 0) : (traffic.counts.get(api) ?? 0)),
    get callLog() {
      return [...traffic.log];
    },
    resetCounters: () => {
      traffic.counts.clear();
      traffic.log.length = 0;
    },
    inject: (input) => {
      const injection: Injection = { ...input, errcode: input.errcode ?? -1, times: input.times ?? 1 };
      traffic.injections.push(injection);
    },
    setLatency: (ms, api) => {
      if (api === undefined) traffic.defaultLatencyMs = ms;
      else traffic.latencyMs.set(api, ms);
    },
    customerMessages: () => [...state.messages],
    expireComponentTokens: () => dropComponentTokens(state),
    expireAuthorizerToken: (appid) => {
      const account = state.accounts.get(appid);
      if (account) dropAuthorizerTokens(state, account);
    },
    setRefreshTokenRotation: (on) => {
      state.rotateRefreshTokens = on;
    },
    accounts: () =>
      [...state.accounts.values()].map((a) => ({
        appid: a.appid,
        kind: a.kind,
        userName: a.userName,
        nickName: a.nickName,
        status: a.status,
        refreshToken: a.refreshToken,
        funcInfo: [...a.funcInfo],
        authTime: a.authTime,
      })),
  };
  if (pushUrl && options.autoPush !== false) void pushTicket(STARTUP_ATTEMPTS);
  return simulator;
};
