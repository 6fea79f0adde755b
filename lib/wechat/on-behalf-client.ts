// The WeChat APIs a platform calls for its authorized accounts' own users (docs/on-behalf.md): the JS-SDK
// ticket of an official account, mini-program login and web OAuth through the component. Every one is a GET
// with everything in the query. Kept apart from the component APIs in client.ts, which adds these methods to
// every client it builds; like the rest of the client, tokens are passed in and never cached here.
import { protectSecret } from '../kernel/logger.ts';
import { WeChatApiError } from './errors.ts';
import { reader, type Body } from './responses.ts';

export const ON_BEHALF_PATHS = {
  getJsapiTicket: '/cgi-bin/ticket/getticket',
  componentJscode2session: '/sns/component/jscode2session',
  componentOAuthAccessToken: '/sns/oauth2/component/access_token',
  componentOAuthRefreshToken: '/sns/oauth2/component/refresh_token',
  snsUserinfo: '/sns/userinfo',
} as const;
export type OnBehalfApiName = keyof typeof ON_BEHALF_PATHS;

/** Where an official account's page sends its user for web OAuth (opened inside WeChat, never called by us). */
export const OAUTH_AUTHORIZE_URL = 'https://open.weixin.qq.com/connect/oauth2/authorize';

/**
 * Never repeated after an ambiguous failure (the request may have been executed): a js_code and an OAuth code
 * are single-use, so a retry would turn a network failure into a misleading 40163; getticket mints a ticket
 * against the account's daily quota (about 10,000), and its caller holds a lease.
 */
export const ON_BEHALF_NO_AMBIGUOUS_RETRY: ReadonlySet<OnBehalfApiName> = new Set([
  'getJsapiTicket',
  'componentJscode2session',
  'componentOAuthAccessToken',
]);

export interface JsapiTicketAnswer {
  readonly ticket: string;
  readonly expiresIn: number;
}

/** jscode2session: who the mini-program user is. `sessionKey` never leaves the operator's backend. */
export interface MiniProgramSession {
  readonly openid: string;
  readonly sessionKey: string;
  /** Only when the mini program is bound to an open-platform account the user is known to. */
  readonly unionid?: string;
}

/** A web-OAuth user token (code exchange or refresh); valid for that openid only. */
export interface OAuthUserToken {
  readonly accessToken: string;
  readonly expiresIn: number;
  readonly refreshToken: string;
  readonly openid: string;
  readonly scope: string;
  readonly unionid?: string;
  /** WeChat's snapshot page (is_snapshotuser=1): virtual openid/unionid, never an account to create or merge. */
  readonly isSnapshotUser?: boolean;
}

export interface OAuthUserInfo {
  readonly openid: string;
  readonly nickname: string;
  readonly headimgurl?: string;
  readonly sex?: number;
  readonly province?: string;
  readonly city?: string;
  readonly country?: string;
  readonly privilege: string[];
  readonly unionid?: string;
}

export interface OnBehalfApi {
  getJsapiTicket(authorizerAccessToken: string): Promise<JsapiTicketAnswer>;
  componentJscode2session(
    componentAccessToken: string,
    input: { componentAppId: string; authorizerAppid: string; jsCode: string },
  ): Promise<MiniProgramSession>;
  componentOAuthAccessToken(
    componentAccessToken: string,
    input: { componentAppId: string; authorizerAppid: string; code: string },
  ): Promise<OAuthUserToken>;
  componentOAuthRefreshToken(
    componentAccessToken: string,
    input: { componentAppId: string; authorizerAppid: string; refreshToken: string },
  ): Promise<OAuthUserToken>;
  snsUserinfo(userAccessToken: string, input: { openid: string; lang?: 'zh_CN' | 'zh_TW' | 'en' }): Promise<OAuthUserInfo>;
}

/** One GET of an on-behalf API with this query; client.ts supplies it (retries, timeouts, typed errors). */
export type Get = (name: OnBehalfApiName, query: Record<string, string>) => Promise<Body>;

const hasCode = (error: unknown, codes: readonly number[]): boolean => error instanceof WeChatApiError && codes.includes(error.errcode);

/** 40029 invalid, expired or foreign code; 40163 code already used. Never retried: the code is gone. */
export const isCodeInvalid = (error: unknown): boolean => hasCode(error, [40029, 40163]);

/** 40030 invalid / 42002 expired web-OAuth refresh_token: the user must authorize the page again. */
export const isUserRefreshTokenInvalid = (error: unknown): boolean => hasCode(error, [40030, 42002]);

/** The user token of sns/userinfo is invalid or expired. Never a reason to refresh the component token. */
export const isUserTokenInvalid = (error: unknown): boolean => hasCode(error, [40001, 40014, 42001]);

/** 48001: the user token's scope does not allow the call (sns/userinfo needs snsapi_userinfo). */
export const isScopeInsufficient = (error: unknown): boolean => hasCode(error, [48001]);

const label = (name: OnBehalfApiName): string => ON_BEHALF_PATHS[name].slice(1).replace(/^cgi-bin\//, '');

const secret = <T extends string | undefined>(value: T): T => {
  protectSecret(value);
  return value;
};

export const toJsapiTicket = (api: string, body: Body): JsapiTicketAnswer => {
  const r = reader(api);
  return { ticket: secret(r.string(body, 'ticket')), expiresIn: r.number(body, 'expires_in') };
};

export const toMiniProgramSession = (api: string, body: Body): MiniProgramSession => {
  const r = reader(api);
  const unionid = r.optString(body, 'unionid');
  return { openid: r.string(body, 'openid'), sessionKey: secret(r.string(body, 'session_key')), ...(unionid ? { unionid } : {}) };
};

export const toOAuthUserToken = (api: string, body: Body): OAuthUserToken => {
  const r = reader(api);
  const unionid = r.optString(body, 'unionid');
  const snapshot = r.optNumber(body, 'is_snapshotuser') === 1;
  return {
    accessToken: secret(r.string(body, 'access_token')),
    expiresIn: r.number(body, 'expires_in'),
    refreshToken: secret(r.string(body, 'refresh_token')),
    openid: r.string(body, 'openid'),
    scope: r.string(body, 'scope'),
    ...(unionid ? { unionid } : {}),
    ...(snapshot ? { isSnapshotUser: true } : {}),
  };
};

export const toOAuthUserInfo = (api: string, body: Body): OAuthUserInfo => {
  const r = reader(api);
  const privilege = r.array(body, 'privilege').filter((p): p is string => typeof p === 'string');
  const info: Record<string, unknown> = {
    openid: r.string(body, 'openid'),
    nickname: r.optString(body, 'nickname') ?? '',
    headimgurl: r.optString(body, 'headimgurl'),
    sex: r.optNumber(body, 'sex'),
    province: r.optString(body, 'province'),
    city: r.optString(body, 'city'),
    country: r.optString(body, 'country'),
    privilege,
    unionid: r.optString(body, 'unionid'),
  };
  return Object.fromEntries(Object.entries(info).filter(([, v]) => v !== undefined)) as unknown as OAuthUserInfo;
};

/** The query every component call of these APIs carries: the account, the component and its token (never a secret). */
const componentQuery = (componentAccessToken: string, componentAppId: string, authorizerAppid: string) => ({
  appid: authorizerAppid,
  component_appid: componentAppId,
  component_access_token: secret(componentAccessToken),
});

export const buildOnBehalfApi = (get: Get): OnBehalfApi => ({
  /** @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/Official_Accounts/js_sdk_instructions.html */
  async getJsapiTicket(authorizerAccessToken) {
    const body = await get('getJsapiTicket', { access_token: secret(authorizerAccessToken), type: 'jsapi' });
    return toJsapiTicket(label('getJsapiTicket'), body);
  },
  /** @see https://developers.weixin.qq.com/doc/oplatform/openApi/miniprogram-management/login/api_thirdpartycode2session.html */
  async componentJscode2session(token, { componentAppId, authorizerAppid, jsCode }) {
    const query = { ...componentQuery(token, componentAppId, authorizerAppid), js_code: secret(jsCode), grant_type: 'authorization_code' };
    return toMiniProgramSession(label('componentJscode2session'), await get('componentJscode2session', query));
  },
  /** @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/Official_Accounts/official_account_website_authorization.html */
  async componentOAuthAccessToken(token, { componentAppId, authorizerAppid, code }) {
    const query = { ...componentQuery(token, componentAppId, authorizerAppid), code: secret(code), grant_type: 'authorization_code' };
    return toOAuthUserToken(label('componentOAuthAccessToken'), await get('componentOAuthAccessToken', query));
  },
  /** The component's refresh, never the account's own sns/oauth2/refresh_token. Same page as the exchange. */
  async componentOAuthRefreshToken(token, { componentAppId, authorizerAppid, refreshToken }) {
    const query = { ...componentQuery(token, componentAppId, authorizerAppid), grant_type: 'refresh_token', refresh_token: secret(refreshToken) };
    return toOAuthUserToken(label('componentOAuthRefreshToken'), await get('componentOAuthRefreshToken', query));
  },
  /** @see https://developers.weixin.qq.com/doc/offiaccount/OA_Web_Apps/Wechat_webpage_authorization.html */
  async snsUserinfo(userAccessToken, { openid, lang = 'zh_CN' }) {
    const body = await get('snsUserinfo', { access_token: secret(userAccessToken), openid, lang });
    return toOAuthUserInfo(label('snsUserinfo'), body);
  },
});
