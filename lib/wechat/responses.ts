// The client's domain shapes (camelCase) and the validating readers that build them from WeChat's
// snake_case bodies (docs/protocol.md §1.7). A required field that is missing or mistyped is a
// WeChatProtocolError naming the API and the field, never an `undefined` that surfaces later.
import { protectSecret } from '../kernel/logger.ts';
import { WeChatProtocolError } from './errors.ts';
import type { CodeManagementApi } from './code-management-types.ts';
import type { OnBehalfApi } from './on-behalf-client.ts';

/** What an account granted (api_query_auth, api_get_authorizer_info). Token fields only with API permission. */
export interface AuthorizationInfo {
  readonly authorizerAppid: string;
  readonly authorizerAccessToken?: string;
  readonly expiresIn?: number;
  readonly authorizerRefreshToken?: string;
  /** funcscope_category ids, e.g. 1 messages, 2 users, 4 web, 15 menus, 17/18/19 mini program. */
  readonly funcInfo: number[];
}

/** An authorized account's profile (api_get_authorizer_info `authorizer_info`). */
export interface AuthorizerInfo {
  readonly nickName: string;
  readonly headImg?: string;
  /** 0 subscription, 1 upgraded subscription, 2 service account; mini programs report 0. */
  readonly serviceTypeId?: number;
  /** -1 unverified, 0 WeChat-verified, 1..5 other verification kinds. */
  readonly verifyTypeId?: number;
  /** The original id, `gh_…`. */
  readonly userName: string;
  readonly principalName?: string;
  readonly alias?: string;
  readonly qrcodeUrl?: string;
  /** 1 normal, 14 cancelled, 16 banned, 18 warned, 19 frozen. */
  readonly accountStatus?: number;
  /** True when the body carries MiniProgramInfo. */
  readonly isMiniProgram: boolean;
}

export interface ComponentToken {
  readonly componentAccessToken: string;
  readonly expiresIn: number;
}
export interface PreAuthCode {
  readonly preAuthCode: string;
  readonly expiresIn: number;
}
export interface AuthorizerToken {
  readonly authorizerAccessToken: string;
  readonly expiresIn: number;
  readonly authorizerRefreshToken?: string;
}
export interface AuthorizerListEntry {
  readonly authorizerAppid: string;
  readonly refreshToken?: string;
  readonly authTime?: number;
}
export interface AuthorizerList {
  readonly totalCount: number;
  readonly list: AuthorizerListEntry[];
}
export interface AuthorizerOption {
  readonly optionName: string;
  readonly optionValue: string;
}
/** One API's daily quota as openapi/quota/get reports it. */
export interface ApiQuota {
  readonly dailyLimit: number;
  readonly used: number;
  readonly remain: number;
}

/** Camel-case wrapper over WeChat's call-level request fields. Tokens are always passed in. */
export interface WeChatClient extends CodeManagementApi, OnBehalfApi {
  apiComponentToken(input: { componentAppId: string; componentAppSecret: string; componentVerifyTicket: string }): Promise<ComponentToken>;
  apiCreatePreauthcode(componentAccessToken: string, input: { componentAppId: string }): Promise<PreAuthCode>;
  apiQueryAuth(componentAccessToken: string, input: { componentAppId: string; authorizationCode: string }): Promise<AuthorizationInfo>;
  apiAuthorizerToken(
    componentAccessToken: string,
    input: { componentAppId: string; authorizerAppid: string; authorizerRefreshToken: string },
  ): Promise<AuthorizerToken>;
  apiGetAuthorizerInfo(
    componentAccessToken: string,
    input: { componentAppId: string; authorizerAppid: string },
  ): Promise<{ authorizerInfo: AuthorizerInfo; authorizationInfo: AuthorizationInfo }>;
  apiGetAuthorizerList(componentAccessToken: string, input: { componentAppId: string; offset: number; count: number }): Promise<AuthorizerList>;
  apiGetAuthorizerOption(
    componentAccessToken: string,
    input: { componentAppId: string; authorizerAppid: string; optionName: string },
  ): Promise<AuthorizerOption>;
  apiSetAuthorizerOption(
    componentAccessToken: string,
    input: { componentAppId: string; authorizerAppid: string; optionName: string; optionValue: string },
  ): Promise<void>;
  clearComponentQuota(componentAccessToken: string, input: { componentAppId: string }): Promise<void>;
  /** Current path: the option of the account whose authorizer token is given. */
  getAuthorizerOption(authorizerAccessToken: string, input: { optionName: string }): Promise<AuthorizerOption>;
  setAuthorizerOption(authorizerAccessToken: string, input: { optionName: string; optionValue: string }): Promise<void>;
  /** Clears the component's quota, or with `appid` an authorized account's, by the app secret (no token). */
  clearComponentQuotaV2(input: { componentAppId: string; appSecret: string; appid?: string }): Promise<void>;
  /** The daily quota of one API (`cgiPath`), for the caller the token belongs to (the component or an account). */
  getApiQuota(accessToken: string, input: { cgiPath: string }): Promise<ApiQuota>;
  apiStartPushTicket(input: { componentAppId: string; componentSecret: string }): Promise<void>;
  sendCustomText(authorizerAccessToken: string, input: { toUser: string; content: string }): Promise<void>;
}

export type Body = Record<string, unknown>;

/** Field readers bound to one API name, so every failure says which call and which field. */
export const reader = (api: string) => {
  const fail = (path: string, expected: string): never => {
    throw new WeChatProtocolError(api, `${path} is missing or not ${expected}`);
  };
  const optString = (body: Body, key: string, path = key): string | undefined => {
    const value = body[key];
    if (value === undefined || value === null || value === '') return undefined;
    return typeof value === 'string' ? value : fail(path, 'a string');
  };
  const optNumber = (body: Body, key: string, path = key): number | undefined => {
    const value = body[key];
    if (value === undefined || value === null || value === '') return undefined;
    const n = typeof value === 'string' ? Number(value) : value;
    return typeof n === 'number' && Number.isFinite(n) ? n : fail(path, 'a number');
  };
  return {
    optString,
    optNumber,
    string: (body: Body, key: string, path = key): string => optString(body, key, path) ?? fail(path, 'a string'),
    number: (body: Body, key: string, path = key): number => optNumber(body, key, path) ?? fail(path, 'a number'),
    object: (body: Body, key: string, path = key): Body => {
      const value = body[key];
      return isBody(value) ? value : fail(path, 'an object');
    },
    optObject: (body: Body, key: string): Body | undefined => (isBody(body[key]) ? (body[key] as Body) : undefined),
    array: (body: Body, key: string, path = key): unknown[] => {
      const value = body[key] ?? [];
      return Array.isArray(value) ? value : fail(path, 'an array');
    },
  };
};

export const isBody = (value: unknown): value is Body => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Drops undefined fields so domain objects only carry what WeChat sent. */
const compact = <T extends object>(value: T): T => Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;

/** Protects every credential WeChat hands back before anything could log it. */
const secret = <T extends string | undefined>(value: T): T => {
  protectSecret(value);
  return value;
};

export const toComponentToken = (api: string, body: Body): ComponentToken => {
  const r = reader(api);
  return { componentAccessToken: secret(r.string(body, 'component_access_token')), expiresIn: r.number(body, 'expires_in') };
};

export const toPreAuthCode = (api: string, body: Body): PreAuthCode => {
  const r = reader(api);
  return { preAuthCode: secret(r.string(body, 'pre_auth_code')), expiresIn: r.number(body, 'expires_in') };
};

export const toAuthorizerToken = (api: string, body: Body): AuthorizerToken => {
  const r = reader(api);
  return compact({
    authorizerAccessToken: secret(r.string(body, 'authorizer_access_token')),
    expiresIn: r.number(body, 'expires_in'),
    authorizerRefreshToken: secret(r.optString(body, 'authorizer_refresh_token')),
  });
};

/** `authorization_info`; the old authorizer-info sample names the appid `appid`, so both are accepted. */
export const toAuthorizationInfo = (api: string, info: Body): AuthorizationInfo => {
  const r = reader(api);
  const appid = r.optString(info, 'authorizer_appid') ?? r.string(info, 'appid', 'authorization_info.authorizer_appid');
  const funcInfo = r.array(info, 'func_info', 'authorization_info.func_info').map((item, i) => {
    const path = `authorization_info.func_info[${i}].funcscope_category.id`;
    return r.number(isBody(item) ? r.object(item, 'funcscope_category', path) : {}, 'id', path);
  });
  return compact({
    authorizerAppid: appid,
    authorizerAccessToken: secret(r.optString(info, 'authorizer_access_token')),
    expiresIn: r.optNumber(info, 'expires_in'),
    authorizerRefreshToken: secret(r.optString(info, 'authorizer_refresh_token')),
    funcInfo,
  });
};

export const toAuthorizerInfo = (api: string, body: Body): AuthorizerInfo => {
  const r = reader(api);
  const info = r.object(body, 'authorizer_info');
  const idOf = (key: string) => {
    const nested = r.optObject(info, key);
    return nested ? r.optNumber(nested, 'id', `authorizer_info.${key}.id`) : undefined;
  };
  return compact({
    nickName: r.string(info, 'nick_name', 'authorizer_info.nick_name'),
    headImg: r.optString(info, 'head_img'),
    serviceTypeId: idOf('service_type_info'),
    verifyTypeId: idOf('verify_type_info'),
    userName: r.string(info, 'user_name', 'authorizer_info.user_name'),
    principalName: r.optString(info, 'principal_name'),
    alias: r.optString(info, 'alias'),
    // The old sample put qrcode_url at the top level.
    qrcodeUrl: r.optString(info, 'qrcode_url') ?? r.optString(body, 'qrcode_url'),
    accountStatus: r.optNumber(info, 'account_status'),
    isMiniProgram: isBody(info.MiniProgramInfo),
  });
};

export const toAuthorizerList = (api: string, body: Body): AuthorizerList => {
  const r = reader(api);
  const list = r.array(body, 'list').map((item, i): AuthorizerListEntry => {
    const entry = isBody(item) ? item : {};
    return compact({
      authorizerAppid: r.string(entry, 'authorizer_appid', `list[${i}].authorizer_appid`),
      // Missing or empty for some accounts (docs/protocol.md §1.7): undefined, never ''.
      refreshToken: secret(r.optString(entry, 'refresh_token', `list[${i}].refresh_token`)),
      authTime: r.optNumber(entry, 'auth_time', `list[${i}].auth_time`),
    });
  });
  return { totalCount: r.number(body, 'total_count'), list };
};

export const toApiQuota = (api: string, body: Body): ApiQuota => {
  const r = reader(api);
  const quota = r.object(body, 'quota');
  return {
    dailyLimit: r.number(quota, 'daily_limit', 'quota.daily_limit'),
    used: r.number(quota, 'used', 'quota.used'),
    remain: r.number(quota, 'remain', 'quota.remain'),
  };
};

export const toAuthorizerOption = (api: string, body: Body): AuthorizerOption => {
  const r = reader(api);
  // option_value is documented as a string but WeChat has been seen echoing numbers; normalise to text.
  const value = body.option_value;
  const optionValue = typeof value === 'number' ? String(value) : r.string(body, 'option_value');
  return { optionName: r.string(body, 'option_name'), optionValue };
};
