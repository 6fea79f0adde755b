// The APIs a platform calls for its accounts' users (docs/on-behalf.md): getticket with an authorizer token,
// and jscode2session and the web-OAuth code exchange, refresh and userinfo through the component. All GET,
// with WeChat's shapes and error codes: codes are single-use and expire in 5 minutes (40029 / 40163), the
// component endpoints take the component token in the query and refuse anything that looks like an account
// secret, and a token in the wrong slot is refused the way WeChat refuses it.
import { createHash, randomBytes } from 'node:crypto';
import type { ApiRequest, ApiRoute } from './api.ts';
import { authorizedAccount } from './accounts.ts';
import {
  checkAuthorizerToken,
  checkComponentToken,
  fail,
  opaque,
  type Account,
  type OAuthScope,
  type SimState,
  type UserCode,
  type UserGrant,
} from './state.ts';

export type { OAuthScope };

/** wx.login codes and web-OAuth codes: single use, 5 minutes. */
export const USER_CODE_TTL_S = 300;
export const JSAPI_TICKET_TTL_S = 7200;
export const USER_TOKEN_TTL_S = 7200;
/** Web-OAuth refresh tokens live 30 days. */
export const USER_REFRESH_TTL_S = 30 * 24 * 3600;

const hash = (...parts: string[]): string => createHash('sha256').update(parts.join('|')).digest('base64url');

/** A user's openid differs per account; the unionid is the same for every account of the component's platform. */
export const openidOf = (appid: string, user: string): string => `o${hash(appid, user).slice(0, 27)}`;
export const unionidOf = (componentAppId: string, user: string): string => `oU${hash('union', componentAppId, user).slice(0, 26)}`;

const param = (query: URLSearchParams, name: string): string | undefined => query.get(name) || undefined;

/**
 * The component side of the sns endpoints: no account secret ever (the component flow needs none), the
 * component token (not an authorizer token: 48001), this component's appid, and an authorized account.
 */
const componentAccount = ({ state, query }: ApiRequest, kind: Account['kind']): Account => {
  for (const name of query.keys()) if (/secret/i.test(name)) fail(40125, `${name}: the component flow takes no account secret`);
  const token = param(query, 'component_access_token');
  if (!token && param(query, 'access_token')) fail(48001, 'api unauthorized: this API takes the component_access_token');
  checkComponentToken(state, token ?? null);
  const componentAppid = param(query, 'component_appid');
  if (!componentAppid) fail(41002);
  if (componentAppid !== state.component.appId) fail(40094, 'invalid component credential');
  const account = authorizedAccount(state, param(query, 'appid'));
  if (account.kind !== kind) fail(40013, `invalid appid: ${account.appid} is not ${kind === 'official' ? 'an official account' : 'a mini program'}`);
  return account;
};

const grantType = (query: URLSearchParams, expected: string): void => {
  if (param(query, 'grant_type') !== expected) fail(40002, 'invalid grant_type');
};

/** Spends a code: 40029 unknown, expired or issued for another account; 40163 already used. */
const spend = (state: SimState, codes: Map<string, UserCode>, code: string | undefined, appid: string): UserCode => {
  if (!code) return fail(41008, 'missing code');
  const entry = codes.get(code);
  if (!entry || entry.appid !== appid || entry.expiresAt <= state.clock()) return fail(40029, 'invalid code');
  if (entry.used) return fail(40163, 'code been used');
  entry.used = true;
  return entry;
};

const getticket = ({ state, query }: ApiRequest) => {
  const account = checkAuthorizerToken(state, param(query, 'access_token') ?? null);
  const type = param(query, 'type');
  if (type !== 'jsapi' && type !== 'wx_card') return fail(40097, 'invalid args: type');
  const ob = state.onBehalf;
  if (ob.quotaExhausted.has('*') || ob.quotaExhausted.has(account.appid)) fail(45009);
  const ticket = opaque('', 64);
  ob.tickets.set(ticket, { appid: account.appid, expiresAt: state.clock() + JSAPI_TICKET_TTL_S * 1000 });
  return { errcode: 0, errmsg: 'ok', ticket, expires_in: JSAPI_TICKET_TTL_S };
};

const jscode2session = (request: ApiRequest) => {
  const { state, query } = request;
  const account = componentAccount(request, 'miniprogram');
  grantType(query, 'authorization_code');
  const code = spend(state, state.onBehalf.jsCodes, param(query, 'js_code'), account.appid);
  return {
    openid: openidOf(account.appid, code.user),
    session_key: randomBytes(16).toString('base64'),
    ...(code.unionid ? { unionid: unionidOf(state.component.appId, code.user) } : {}),
  };
};

/** Issues a user token for a grant; the same shape answers the exchange and the refresh. */
const userToken = (state: SimState, grant: UserGrant, refreshToken: string) => {
  const accessToken = opaque('', 64);
  state.onBehalf.userTokens.set(accessToken, { ...grant, expiresAt: state.clock() + USER_TOKEN_TTL_S * 1000 });
  return {
    access_token: accessToken,
    expires_in: USER_TOKEN_TTL_S,
    refresh_token: refreshToken,
    openid: openidOf(grant.appid, grant.user),
    scope: grant.scope,
    // unionid only comes with snsapi_userinfo.
    ...(grant.unionid && grant.scope === 'snsapi_userinfo' ? { unionid: unionidOf(state.component.appId, grant.user) } : {}),
  };
};

const oauthAccessToken = (request: ApiRequest) => {
  const { state, query } = request;
  const account = componentAccount(request, 'official');
  grantType(query, 'authorization_code');
  const code = spend(state, state.onBehalf.oauthCodes, param(query, 'code'), account.appid);
  const grant: UserGrant = {
    appid: account.appid,
    user: code.user,
    scope: code.scope ?? 'snsapi_base',
    unionid: code.unionid,
    expiresAt: state.clock() + USER_REFRESH_TTL_S * 1000,
  };
  const refreshToken = opaque('', 64);
  state.onBehalf.userRefreshTokens.set(refreshToken, grant);
  return userToken(state, grant, refreshToken);
};

const oauthRefreshToken = (request: ApiRequest) => {
  const { state, query } = request;
  const account = componentAccount(request, 'official');
  grantType(query, 'refresh_token');
  const refreshToken = param(query, 'refresh_token');
  const grant = refreshToken ? state.onBehalf.userRefreshTokens.get(refreshToken) : undefined;
  if (!refreshToken || !grant || grant.appid !== account.appid) return fail(40030, 'invalid refresh_token');
  if (grant.expiresAt <= state.clock()) return fail(42002, 'refresh_token timeout');
  return userToken(state, grant, refreshToken);
};

const userinfo = ({ state, query }: ApiRequest) => {
  const token = param(query, 'access_token');
  if (!token) return fail(41001);
  const grant = state.onBehalf.userTokens.get(token);
  if (!grant) return fail(40001);
  if (grant.expiresAt <= state.clock()) return fail(42001, 'access_token expired');
  const openid = openidOf(grant.appid, grant.user);
  if (param(query, 'openid') !== openid) fail(40003, 'invalid openid');
  if (grant.scope !== 'snsapi_userinfo') fail(48001, 'api unauthorized');
  return {
    openid,
    nickname: `用户${grant.user.slice(0, 6)}`,
    sex: 0,
    province: '',
    city: '',
    country: '',
    headimgurl: `https://thirdwx.qlogo.cn/mmopen/vi_32/${hash(openid).slice(0, 16)}/132`,
    privilege: [],
    ...(grant.unionid ? { unionid: unionidOf(state.component.appId, grant.user) } : {}),
  };
};

/** Path → route; every one of them is GET. */
export const onBehalfRoutes = (): [string, ApiRoute][] => [
  ['/cgi-bin/ticket/getticket', { name: 'getticket', method: 'GET', handle: getticket }],
  ['/sns/component/jscode2session', { name: 'jscode2session', method: 'GET', handle: jscode2session }],
  ['/sns/oauth2/component/access_token', { name: 'oauth2_component_access_token', method: 'GET', handle: oauthAccessToken }],
  ['/sns/oauth2/component/refresh_token', { name: 'oauth2_component_refresh_token', method: 'GET', handle: oauthRefreshToken }],
  ['/sns/userinfo', { name: 'sns_userinfo', method: 'GET', handle: userinfo }],
];

export interface MintInput {
  readonly authorizerAppid: string;
  /** Who is logging in; the same user gets the same openid again (default: a new user). */
  readonly user?: string;
  /** Whether WeChat reveals a unionid (the account is bound to an open-platform account); default true. */
  readonly unionid?: boolean;
}

export interface MintedCode {
  readonly code: string;
  readonly openid: string;
  readonly unionid?: string;
}

const account = (state: SimState, appid: string, kind: Account['kind']): Account | undefined => {
  const found = state.accounts.get(appid);
  return found && found.kind === kind ? found : undefined;
};

const mint = (state: SimState, codes: Map<string, UserCode>, input: MintInput, prefix: string, scope?: OAuthScope): MintedCode => {
  const user = input.user ?? randomBytes(6).toString('hex');
  const unionid = input.unionid ?? true;
  const code = opaque(prefix, 24);
  codes.set(code, {
    appid: input.authorizerAppid,
    user,
    unionid,
    expiresAt: state.clock() + USER_CODE_TTL_S * 1000,
    used: false,
    ...(scope ? { scope } : {}),
  });
  const showUnionid = unionid && (scope === undefined || scope === 'snsapi_userinfo');
  return { code, openid: openidOf(input.authorizerAppid, user), ...(showUnionid ? { unionid: unionidOf(state.component.appId, user) } : {}) };
};

/** The tests' and tools' side: what a user's WeChat client would obtain, and what WeChat would accept. */
export interface OnBehalfSwitches {
  /** A code as `wx.login()` returns it in the mini program; undefined when the appid is no mini program here. */
  mintJsCode(input: MintInput): MintedCode | undefined;
  /** A web-OAuth code as WeChat appends it to redirect_uri; undefined when the appid is no official account here. */
  mintOAuthCode(input: MintInput & { scope: OAuthScope }): MintedCode | undefined;
  /** getticket answers 45009 for this account (or every account without one) until switched off. */
  setTicketQuotaExhausted(on: boolean, authorizerAppid?: string): void;
  /**
   * What WeChat checks when the page calls wx.config: a live ticket of that account signs exactly these
   * values over the page URL without its fragment (docs/on-behalf.md).
   */
  acceptsJsConfig(input: { appId: string; url: string; timestamp: number; nonceStr: string; signature: string }): boolean;
}

export const createOnBehalfSwitches = (state: SimState): OnBehalfSwitches => ({
  mintJsCode: (input) => (account(state, input.authorizerAppid, 'miniprogram') ? mint(state, state.onBehalf.jsCodes, input, '') : undefined),
  mintOAuthCode: (input) =>
    account(state, input.authorizerAppid, 'official') ? mint(state, state.onBehalf.oauthCodes, input, '', input.scope) : undefined,
  setTicketQuotaExhausted: (on, appid = '*') => {
    if (on) state.onBehalf.quotaExhausted.add(appid);
    else state.onBehalf.quotaExhausted.delete(appid);
  },
  acceptsJsConfig: ({ appId, url, timestamp, nonceStr, signature }) => {
    const page = url.split('#')[0];
    return [...state.onBehalf.tickets].some(([ticket, t]) => {
      if (t.appid !== appId || t.expiresAt <= state.clock()) return false;
      const signed = `jsapi_ticket=${ticket}&noncestr=${nonceStr}&timestamp=${timestamp}&url=${page}`;
      return createHash('sha1').update(signed).digest('hex') === signature;
    });
  },
});
