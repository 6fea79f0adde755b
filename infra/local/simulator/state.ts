// The simulator's memory: what WeChat would hold for one component (tickets it pushed, tokens and codes it
// issued, the accounts that authorized it). In memory on purpose: the simulator stands in for a remote
// service, and the platform under test must not be able to lean on it for durable state.
import { randomBytes, randomInt } from 'node:crypto';
import type { Clock } from '../../../lib/kernel/clock.ts';

export interface ComponentCredentials {
  readonly appId: string;
  readonly appSecret: string;
  readonly token: string;
  readonly encodingAesKey: string;
}

export type AccountKind = 'official' | 'miniprogram';

export interface Account {
  readonly appid: string;
  readonly kind: AccountKind;
  userName: string;
  nickName: string;
  funcInfo: number[];
  status: 'authorized' | 'unauthorized';
  /** The one refresh token WeChat accepts right now; undefined once the account unauthorized. */
  refreshToken: string | undefined;
  /** Epoch seconds of the latest authorization. */
  authTime: number;
  options: Record<string, string>;
  /** Access token → expiry (epoch ms). */
  accessTokens: Map<string, number>;
}

export interface CustomerMessage {
  readonly toUser: string;
  readonly content: string;
  readonly authorizerAppid: string;
  /** Epoch ms, from the simulator's clock. */
  readonly at: number;
}

export interface AuthCode {
  readonly appid: string;
  readonly expiresAt: number;
  used: boolean;
}

export type OAuthScope = 'snsapi_base' | 'snsapi_userinfo';

export interface UserCode {
  readonly appid: string;
  readonly user: string;
  readonly scope?: OAuthScope;
  readonly unionid: boolean;
  readonly expiresAt: number;
  used: boolean;
}

export interface UserGrant {
  readonly appid: string;
  readonly user: string;
  readonly scope: OAuthScope;
  readonly unionid: boolean;
  readonly expiresAt: number;
}

export interface OnBehalfState {
  /** jsapi_ticket → its account and expiry (epoch ms). An older ticket stays valid until it expires. */
  readonly tickets: Map<string, { readonly appid: string; readonly expiresAt: number }>;
  /** Appids whose getticket answers 45009; `*` for every account. */
  readonly quotaExhausted: Set<string>;
  readonly jsCodes: Map<string, UserCode>;
  readonly oauthCodes: Map<string, UserCode>;
  readonly userTokens: Map<string, UserGrant>;
  readonly userRefreshTokens: Map<string, UserGrant>;
}

const createOnBehalfState = (): OnBehalfState => ({
  tickets: new Map(),
  quotaExhausted: new Set(),
  jsCodes: new Map(),
  oauthCodes: new Map(),
  userTokens: new Map(),
  userRefreshTokens: new Map(),
});

export interface SimState {
  readonly component: ComponentCredentials;
  readonly clock: Clock;
  readonly tokenTtlS: number;
  /** Ticket → when it was pushed (epoch ms). */
  readonly tickets: Map<string, number>;
  /** Component access token → expiry (epoch ms). */
  readonly componentTokens: Map<string, number>;
  /** Pre-auth code → expiry (epoch ms). */
  readonly preAuthCodes: Map<string, number>;
  readonly authCodes: Map<string, AuthCode>;
  /** Authorizer access token → its account's appid (the expiry lives on the account). */
  readonly authorizerTokens: Map<string, string>;
  readonly accounts: Map<string, Account>;
  readonly messages: CustomerMessage[];
  rotateRefreshTokens: boolean;
  clearQuotaUsed: number;
  /** Tickets, user codes and user tokens of the on-behalf APIs (on-behalf.ts). */
  readonly onBehalf: OnBehalfState;
}

export const TICKET_LIFETIME_S = 12 * 3600;
export const PRE_AUTH_CODE_TTL_S = 1800;
export const AUTH_CODE_TTL_S = 3600;
/** After a new token is issued WeChat keeps accepting the previous one for about five minutes (docs/protocol.md §1.6). */
export const OVERLAP_S = 300;
/** clear_quota budget per month (docs/protocol.md §1.10). */
export const CLEAR_QUOTA_LIMIT = 10;

export const createState = (component: ComponentCredentials, clock: Clock, tokenTtlS: number): SimState => ({
  component,
  clock,
  tokenTtlS,
  tickets: new Map(),
  componentTokens: new Map(),
  preAuthCodes: new Map(),
  authCodes: new Map(),
  authorizerTokens: new Map(),
  accounts: new Map(),
  messages: [],
  rotateRefreshTokens: false,
  clearQuotaUsed: 0,
  onBehalf: createOnBehalfState(),
});

const ERRMSG: Record<number, string> = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40002: 'invalid grant_type',
  40003: 'invalid openid',
  40008: 'invalid message type',
  40013: 'invalid appid',
  40029: 'invalid code',
  40030: 'invalid refresh_token',
  40094: 'invalid component credential',
  40097: 'invalid args',
  40125: 'invalid appsecret',
  40163: 'code been used',
  41001: 'access_token missing',
  41002: 'appid missing',
  41004: 'appsecret missing',
  41008: 'missing code',
  42001: 'access_token expired',
  42002: 'refresh_token timeout',
  43001: 'require GET method',
  43002: 'require POST method',
  44002: 'empty post data',
  45009: 'reach max api daily quota limit',
  45011: 'api minute-quota reach limit',
  47001: 'data format error',
  48001: 'api unauthorized',
  48006: 'forbid to clear quota because of reaching the limit',
  61003: 'component is not authorized by this account',
  61004: 'access clientip is not registered',
  61005: 'component ticket is expired',
  61006: 'component ticket is invalid',
  61009: 'code is invalid',
  61010: 'code is expired',
  61023: 'refresh_token is invalid',
  76003: 'invalid cgi_path',
};

/** A WeChat error answer: HTTP 200 with errcode/errmsg, as every WeChat API fails. */
export class WeChatFault extends Error {
  readonly errcode: number;
  constructor(errcode: number, errmsg?: string) {
    super(errmsg ?? ERRMSG[errcode] ?? 'error');
    this.errcode = errcode;
  }
}

export const fail = (errcode: number, errmsg?: string): never => {
  throw new WeChatFault(errcode, errmsg);
};

const rid = (): string => [4, 4, 4].map((n) => randomBytes(n).toString('hex')).join('-');

/** WeChat's error body: errmsg always ends with a request id. */
export const errorBody = (errcode: number, errmsg?: string) => ({
  errcode,
  errmsg: `${errmsg ?? ERRMSG[errcode] ?? 'error'} rid: ${rid()}`,
});

export const OK_BODY = { errcode: 0, errmsg: 'ok' } as const;

/** An opaque random string; `prefix` reproduces the shapes seen in real data (`ticket@@@…`). */
export const opaque = (prefix = '', bytes = 48): string => `${prefix}${randomBytes(bytes).toString('base64url')}`;

export const randomAppid = (): string => `wx${randomBytes(8).toString('hex')}`;
export const randomUserName = (): string => `gh_${randomBytes(6).toString('hex')}`;
export const randomNonce = (): string => String(randomInt(100_000_000, 2_000_000_000));

export const nowS = (state: SimState): number => Math.floor(state.clock() / 1000);

/** Caps every other live token at now + OVERLAP_S and forgets the dead ones. */
const capOthers = (tokens: Map<string, number>, now: number): void => {
  for (const [token, expiresAt] of tokens) {
    if (expiresAt <= now) tokens.delete(token);
    else tokens.set(token, Math.min(expiresAt, now + OVERLAP_S * 1000));
  }
};

export const issueComponentToken = (state: SimState): string => {
  const now = state.clock();
  capOthers(state.componentTokens, now);
  const token = opaque('', 96);
  state.componentTokens.set(token, now + state.tokenTtlS * 1000);
  return token;
};

/** 41001 without a token, 40001 for an unknown or expired one. */
export const checkComponentToken = (state: SimState, token: string | null): void => {
  if (!token) fail(41001);
  const expiresAt = state.componentTokens.get(token as string);
  if (expiresAt === undefined || expiresAt <= state.clock()) fail(40001);
};

export const issueAuthorizerToken = (state: SimState, account: Account): string => {
  const now = state.clock();
  for (const token of account.accessTokens.keys()) {
    if ((account.accessTokens.get(token) ?? 0) <= now) state.authorizerTokens.delete(token);
  }
  capOthers(account.accessTokens, now);
  const token = opaque('', 96);
  account.accessTokens.set(token, now + state.tokenTtlS * 1000);
  state.authorizerTokens.set(token, account.appid);
  return token;
};

/** The account an authorizer access token belongs to; 41001 / 40001 like any token-taking API. */
export const checkAuthorizerToken = (state: SimState, token: string | null): Account => {
  if (!token) fail(41001);
  const account = state.accounts.get(state.authorizerTokens.get(token as string) ?? '');
  const expiresAt = account?.accessTokens.get(token as string);
  if (!account || expiresAt === undefined || expiresAt <= state.clock()) return fail(40001);
  return account;
};

/** Invalidates an account's access tokens at once (re-authorization, revocation, tests of 40001). */
export const dropAuthorizerTokens = (state: SimState, account: Account): void => {
  for (const token of account.accessTokens.keys()) state.authorizerTokens.delete(token);
  account.accessTokens.clear();
};

export const dropComponentTokens = (state: SimState): void => state.componentTokens.clear();
