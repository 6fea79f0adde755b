// The local WeChat simulator: a real HTTP server on 127.0.0.1 standing in for api.weixin.qq.com, pushing
// tickets and authorization events to the platform's event URL like WeChat. Used by `npm start` (when
// WECHAT_API_BASE_URL is unset), by integration and end-to-end tests, and by the benchmarks.
// Every control is also served as JSON under /__sim/ (control.ts) for tests that drive it from another process.
import { systemClock, type Clock } from '../../../lib/kernel/clock.ts';
import { keysFrom, type MessageKeys } from '../../../lib/wechat/crypto.ts';
import { SIMULATOR_COMPONENT } from '../credentials.ts';
import { createApiRoutes } from './api.ts';
import { createAuditQueue } from './audits.ts';
import { createCodeRoutes } from './code-api.ts';
import { createCodeState } from './code-state.ts';
import { createCodeSwitches, type CodeSwitches } from './code-switches.ts';
import { createControl } from './control.ts';
import { createOwner, landingQuery, type AuthorizeInput, type AuthorizeResult, type ReauthorizeInput } from './owner.ts';
import { createPusher, ticketXml, type Delivery, type Pusher, type PushResult } from './pusher.ts';
import { close, createTraffic, listen, type CallRecord } from './server.ts';
import { createState, nowS, opaque, type ComponentCredentials, type CustomerMessage, type SimState } from './state.ts';
import { createSwitches, type AccountView, type InjectInput, type Switches } from './switches.ts';
import { createOnBehalfSwitches, type MintedCode, type MintInput, type OAuthScope, type OnBehalfSwitches } from './on-behalf.ts';

export type {
  AccountView,
  AuthorizeInput,
  AuthorizeResult,
  CallRecord,
  ComponentCredentials,
  CustomerMessage,
  Delivery,
  InjectInput,
  MintedCode,
  MintInput,
  OAuthScope,
  PushResult,
  ReauthorizeInput,
};
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
  /** An account's message URL, where audit results are pushed; default the push URL's origin + /wechat/authorizers/{appid}/callback. */
  messageUrl?: (authorizerAppid: string) => string | undefined;
}

export interface Simulator extends Switches, OnBehalfSwitches {
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
  /**
   * Seals any inner XML as WeChat would and POSTs it to url: the way to send user messages to the message URL
   * (outer ToUserName, `openid` in the query) for release checks.
   */
  deliver(url: string, innerXml: string, delivery: Delivery): Promise<PushResult>;
  /** Plays an account owner authorizing (see owner.ts); returns the code the landing page would get. */
  authorize(input?: AuthorizeInput): Promise<AuthorizeResult>;
  reauthorize(authorizerAppid: string, input?: ReauthorizeInput): Promise<AuthorizeResult>;
  unauthorize(authorizerAppid: string, options?: { push?: boolean }): Promise<{ pushStatus?: number }>;
  landingQuery(authorizationCode: string): string;
  /** Mini-program code management: template library, audits, quota (code-switches.ts). */
  readonly code: CodeSwitches;
}

const STARTUP_ATTEMPTS = 10;
const STARTUP_RETRY_MS = 500;

interface TicketPusherParts {
  readonly state: SimState;
  readonly pusher: Pusher;
  readonly pushUrl: string | undefined;
  readonly log: (line: string) => void;
  readonly track: <T>(work: Promise<T>) => Promise<T>;
}

/** Each push carries a new ticket, valid 12 h from the push (docs/protocol.md §1.6). */
const ticketPusher =
  ({ state, pusher, pushUrl, log, track }: TicketPusherParts) =>
  (attempts = 1): Promise<PushResult> => {
    const ticket = opaque('ticket@@@', 64);
    state.tickets.set(ticket, state.clock());
    if (!pushUrl) {
      log('push component_verify_ticket skipped (no push URL)');
      return Promise.resolve({ status: 0, body: 'no push URL' });
    }
    const xml = ticketXml(state.component.appId, nowS(state), ticket);
    const delivery = { label: 'component_verify_ticket', timestamp: nowS(state) };
    return track(pusher.deliverPatiently(pushUrl, xml, delivery, attempts, STARTUP_RETRY_MS));
  };

/** Work in flight (pushes) that stop() waits for after aborting it. */
const createTracker = () => {
  const inflight = new Set<Promise<unknown>>();
  return {
    track: <T>(work: Promise<T>): Promise<T> => {
      inflight.add(work);
      void work.finally(() => inflight.delete(work)).catch(() => undefined);
      return work;
    },
    settle: () => Promise.allSettled([...inflight]),
  };
};

const defaultMessageUrl =
  (pushUrl: string | undefined) =>
  (appid: string): string | undefined =>
    pushUrl ? `${new URL(pushUrl).origin}/wechat/authorizers/${appid}/callback` : undefined;

export const startSimulator = async (options: SimulatorOptions = {}): Promise<Simulator> => {
  const component = options.component ?? SIMULATOR_COMPONENT;
  const { pushUrl, log = () => undefined } = options;
  const state = createState(component, options.clock ?? systemClock, options.tokenTtlS ?? 7200);
  const keys = keysFrom(component, component.appId);
  const aborter = new AbortController();
  const pusher = createPusher(keys, log, aborter.signal);
  const { track, settle } = createTracker();
  const pushTicket = ticketPusher({ state, pusher, pushUrl, log, track });
  const traffic = createTraffic(options.latencyMs ?? 0);
  const owner = createOwner(state, pusher, pushUrl, log);
  const code = createCodeState(nowS(state));
  const messageUrl = { current: options.messageUrl ?? defaultMessageUrl(pushUrl) };
  const audits = createAuditQueue({ state, code, pusher, messageUrl: (appid) => messageUrl.current(appid), log, track });
  const routes = new Map([
    ...createApiRoutes({
      startPushTicket: () => setImmediate(() => void pushTicket()),
      callsOf: (api) => traffic.counts.get(api) ?? 0,
    }),
    ...createCodeRoutes(code, audits),
  ]);
  let simulator: Simulator | undefined;
  const { server, port } = await listen({ state, routes, traffic, control: createControl(() => simulator!), log }, options.port ?? 0);
  const interval = options.ticketIntervalMs ?? 600_000;
  const timer = interval > 0 && pushUrl ? setInterval(() => void pushTicket(), interval).unref() : undefined;
  // Object.assign keeps the switches' callLog getter live.
  simulator = Object.assign(createSwitches(state, traffic), createOnBehalfSwitches(state), {
    url: `http://127.0.0.1:${port}`,
    port,
    component,
    keys,
    stop: async () => {
      clearInterval(timer);
      audits.stop();
      aborter.abort();
      await settle();
      await pusher.close();
      await close(server);
    },
    pushTicket: () => pushTicket(),
    latestTicket: () => [...state.tickets.keys()].at(-1),
    deliver: (url: string, innerXml: string, delivery: Delivery) => track(pusher.deliver(url, innerXml, delivery)),
    authorize: (input?: AuthorizeInput) => track(owner.authorize(input)),
    reauthorize: (appid: string, input?: ReauthorizeInput) => track(owner.reauthorize(appid, input)),
    unauthorize: (appid: string, opts?: { push?: boolean }) => track(owner.unauthorize(appid, opts)),
    landingQuery,
    code: createCodeSwitches(state, code, messageUrl),
  });
  if (pushUrl && options.autoPush !== false) void pushTicket(STARTUP_ATTEMPTS);
  return simulator;
};
