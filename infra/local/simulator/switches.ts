// The test switches of the in-process Simulator object: call counts, injected errors, latency, the messages
// the platform sent, forced expiry, refresh-token rotation, and a view of the accounts for assertions.
import type { CallRecord, Injection, Traffic } from './server.ts';
import { dropAuthorizerTokens, dropComponentTokens, issueAuthorizerToken, type AccountKind, type CustomerMessage, type SimState } from './state.ts';

export interface InjectInput {
  /** Route name (`api_component_token`, `message_custom_send`, …) or `*`. */
  api: string;
  /** Default -1 (system error). */
  errcode?: number;
  errmsg?: string;
  /** Matching calls answered this way before normal behaviour resumes (default 1). */
  times?: number;
  /** Answer with this HTTP status and an HTML body instead of a WeChat error. */
  httpStatus?: number;
  /** Only calls about this account (their JSON body's `authorizer_appid`). */
  authorizerAppid?: string;
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

export interface Switches {
  /** Calls of one API (route name), or of all of them since the last reset. */
  calls(api?: string): number;
  /** The most recent calls (up to 1000), oldest first. */
  readonly callLog: readonly CallRecord[];
  resetCounters(): void;
  inject(input: InjectInput): void;
  /** Drops every injected answer not yet used. */
  clearInjections(): void;
  /** Latency for one API, or the default for all (ms). */
  setLatency(ms: number, api?: string): void;
  customerMessages(): CustomerMessage[];
  /** Every component token answers 40001 from now on. */
  expireComponentTokens(): void;
  /** The account's access tokens answer 40001 from now on. */
  expireAuthorizerToken(authorizerAppid: string): void;
  /** When on, api_authorizer_token returns a new refresh token each time and the old one answers 61023. */
  setRefreshTokenRotation(on: boolean): void;
  accounts(): AccountView[];
  /** A valid access token for the account, as api_authorizer_token would issue, for benches that seed the table. */
  issueAccessToken(authorizerAppid: string): string | undefined;
}

const view = (state: SimState): AccountView[] =>
  [...state.accounts.values()].map((a) => ({
    appid: a.appid,
    kind: a.kind,
    userName: a.userName,
    nickName: a.nickName,
    status: a.status,
    refreshToken: a.refreshToken,
    funcInfo: [...a.funcInfo],
    authTime: a.authTime,
  }));

export const createSwitches = (state: SimState, traffic: Traffic): Switches => ({
  calls: (api) => (api === undefined ? [...traffic.counts.values()].reduce((a, b) => a + b, 0) : (traffic.counts.get(api) ?? 0)),
  get callLog() {
    return [...traffic.log];
  },
  resetCounters: () => {
    traffic.counts.clear();
    traffic.log.length = 0;
  },
  clearInjections: () => {
    traffic.injections.length = 0;
  },
  inject: (input) => {
    const injection: Injection = { ...input, errcode: input.errcode ?? -1, times: input.times ?? 1 };
    if (injection.times > 0) traffic.injections.push(injection);
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
  accounts: () => view(state),
  issueAccessToken: (appid) => {
    const account = state.accounts.get(appid);
    return account ? issueAuthorizerToken(state, account) : undefined;
  },
});
