// The WeChat APIs the simulator answers (docs/protocol.md §1.7), with WeChat's shapes and error codes (§1.9).
// Each handler takes the parsed JSON body and the query and returns the success body or throws a WeChatFault.
import { authorizedAccount, authorizerInfoJson, funcInfoJson, issuePreAuthCode, redeemAuthCode } from './accounts.ts';
import {
  checkAuthorizerToken,
  checkComponentToken,
  CLEAR_QUOTA_LIMIT,
  fail,
  issueAuthorizerToken,
  issueComponentToken,
  OK_BODY,
  opaque,
  PRE_AUTH_CODE_TTL_S,
  TICKET_LIFETIME_S,
  type SimState,
} from './state.ts';
import { onBehalfRoutes } from './on-behalf.ts';

export interface ApiRequest {
  readonly state: SimState;
  readonly body: Record<string, unknown>;
  readonly query: URLSearchParams;
  /** The body as sent (release and getversioninfo refuse an empty one). */
  readonly raw: string;
}

/** A non-JSON answer (get_qrcode's image). */
export interface BinaryAnswer {
  readonly binary: Buffer;
  readonly contentType: string;
}

export interface ApiRoute {
  /** The name calls are counted, logged and injected under, e.g. `api_component_token`. */
  readonly name: string;
  /**
   * WeChat's component APIs are POST JSON; the on-behalf ones (on-behalf.ts) and the code-management reads
   * (code-api.ts) are GET. Default POST; a GET route answers a POST with 43001, a POST route a GET with 43002.
   */
  readonly method?: 'GET' | 'POST';
  readonly handle: (request: ApiRequest) => object | BinaryAnswer;
}

export interface ApiHooks {
  /** Called after api_start_push_ticket succeeds: WeChat pushes a ticket shortly after answering. */
  readonly startPushTicket: () => void;
  /** How many calls an API (by route name) has answered: what openapi/quota/get reports as used. */
  readonly callsOf: (api: string) => number;
}

const text = (body: Record<string, unknown>, key: string): string | undefined => {
  const value = body[key];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
};

const checkComponentAppid = ({ state, body }: ApiRequest): void => {
  const appid = text(body, 'component_appid');
  if (!appid) fail(41002);
  if (appid !== state.component.appId) fail(40013);
};

/** Token first, then the component appid: the order WeChat reports problems in. */
const withComponentToken = (request: ApiRequest): void => {
  const { query } = request;
  checkComponentToken(request.state, query.get('component_access_token') ?? query.get('access_token'));
  checkComponentAppid(request);
};

const componentToken = (request: ApiRequest) => {
  const { state, body } = request;
  checkComponentAppid(request);
  const secret = text(body, 'component_appsecret');
  if (!secret) fail(41004);
  if (secret !== state.component.appSecret) fail(40125);
  const ticket = text(body, 'component_verify_ticket');
  const pushedAt = ticket === undefined ? undefined : state.tickets.get(ticket);
  if (pushedAt === undefined) return fail(61006);
  if (pushedAt + TICKET_LIFETIME_S * 1000 <= state.clock()) fail(61005);
  return { component_access_token: issueComponentToken(state), expires_in: state.tokenTtlS };
};

const createPreAuthCode = (request: ApiRequest) => {
  withComponentToken(request);
  return { pre_auth_code: issuePreAuthCode(request.state), expires_in: PRE_AUTH_CODE_TTL_S };
};

const queryAuth = (request: ApiRequest) => {
  withComponentToken(request);
  const { state, body } = request;
  const code = text(body, 'authorization_code');
  if (!code) return fail(41008, 'missing code');
  const account = redeemAuthCode(state, code);
  return {
    authorization_info: {
      authorizer_appid: account.appid,
      authorizer_access_token: issueAuthorizerToken(state, account),
      expires_in: state.tokenTtlS,
      authorizer_refresh_token: account.refreshToken,
      func_info: funcInfoJson(account),
    },
  };
};

const authorizerToken = (request: ApiRequest) => {
  withComponentToken(request);
  const { state, body } = request;
  const account = authorizedAccount(state, body.authorizer_appid);
  if (text(body, 'authorizer_refresh_token') !== account.refreshToken) fail(61023);
  const accessToken = issueAuthorizerToken(state, account);
  // Real WeChat keeps the refresh token until re-authorization; rotation is a switch to test that new ones get saved.
  if (state.rotateRefreshTokens) account.refreshToken = opaque('refreshtoken@@@', 32);
  return { authorizer_access_token: accessToken, expires_in: state.tokenTtlS, authorizer_refresh_token: account.refreshToken };
};

const getAuthorizerInfo = (request: ApiRequest) => {
  withComponentToken(request);
  const account = authorizedAccount(request.state, request.body.authorizer_appid);
  return {
    authorizer_info: authorizerInfoJson(account),
    authorization_info: {
      authorizer_appid: account.appid,
      authorizer_refresh_token: account.refreshToken,
      func_info: funcInfoJson(account),
    },
  };
};

const getAuthorizerList = (request: ApiRequest) => {
  withComponentToken(request);
  const { offset, count } = request.body;
  if (typeof offset !== 'number' || typeof count !== 'number' || offset < 0 || count < 1 || count > 500) fail(40097);
  const all = [...request.state.accounts.values()].filter((a) => a.status === 'authorized');
  const page = all.slice(offset as number, (offset as number) + (count as number));
  return {
    total_count: all.length,
    list: page.map((a) => ({ authorizer_appid: a.appid, refresh_token: a.refreshToken, auth_time: a.authTime })),
  };
};

const OPTION_VALUES: Record<string, readonly string[]> = {
  location_report: ['0', '1', '2'],
  voice_recognize: ['0', '1'],
  customer_service: ['0', '1'],
};

const optionTarget = (request: ApiRequest) => {
  withComponentToken(request);
  const account = authorizedAccount(request.state, request.body.authorizer_appid);
  const name = text(request.body, 'option_name');
  if (!name || !OPTION_VALUES[name]) return fail(40097);
  return { account, name };
};

const getAuthorizerOption = (request: ApiRequest) => {
  const { account, name } = optionTarget(request);
  return { authorizer_appid: account.appid, option_name: name, option_value: account.options[name] };
};

const setAuthorizerOption = (request: ApiRequest) => {
  const { account, name } = optionTarget(request);
  const value = request.body.option_value;
  const asText = typeof value === 'number' ? String(value) : value;
  if (typeof asText !== 'string' || !OPTION_VALUES[name]!.includes(asText)) fail(40097);
  account.options[name] = asText as string;
  return OK_BODY;
};

const clearQuota = (request: ApiRequest) => {
  withComponentToken(request);
  if (request.state.clearQuotaUsed >= CLEAR_QUOTA_LIMIT) fail(48006);
  request.state.clearQuotaUsed += 1;
  return OK_BODY;
};

/** The current option paths: the account is the one whose authorizer token is in the query. */
const optionOfToken = ({ state, body, query }: ApiRequest) => {
  const account = checkAuthorizerToken(state, query.get('access_token'));
  const name = text(body, 'option_name');
  if (!name || !OPTION_VALUES[name]) return fail(40097);
  return { account, name };
};

const getOptionOfToken = (request: ApiRequest) => {
  const { account, name } = optionOfToken(request);
  return { option_name: name, option_value: account.options[name] };
};

const setOptionOfToken = (request: ApiRequest) => {
  const { account, name } = optionOfToken(request);
  const value = request.body.option_value;
  const asText = typeof value === 'number' ? String(value) : value;
  if (typeof asText !== 'string' || !OPTION_VALUES[name]!.includes(asText)) fail(40097);
  account.options[name] = asText as string;
  return OK_BODY;
};

/** clear_quota/v2: by the app secret, no token; `appid` clears an authorized account's quota instead. */
const clearQuotaBySecret = (request: ApiRequest) => {
  const { state, body } = request;
  checkComponentAppid(request);
  const secret = text(body, 'appsecret');
  if (!secret) fail(41004);
  if (secret !== state.component.appSecret) fail(40125);
  const appid = text(body, 'appid');
  if (appid !== undefined && state.accounts.get(appid)?.status !== 'authorized') fail(40013);
  if (state.clearQuotaUsed >= CLEAR_QUOTA_LIMIT) fail(48006);
  state.clearQuotaUsed += 1;
  return OK_BODY;
};

/** Daily limits the simulator reports (undocumented in reality, PROTOCOL.md §1.10); other paths are 76003. */
const DAILY_LIMITS: Record<string, number> = {
  '/cgi-bin/component/api_component_token': 2000,
  '/cgi-bin/component/api_create_preauthcode': 100_000,
  '/cgi-bin/component/api_query_auth': 100_000,
  '/cgi-bin/component/api_authorizer_token': 100_000,
  '/cgi-bin/component/api_get_authorizer_info': 100_000,
  '/cgi-bin/component/api_get_authorizer_list': 10_000,
  '/cgi-bin/message/custom/send': 500_000,
};

/** openapi/quota/get with the component token or an authorizer token: limit, calls answered so far, what is left. */
const apiQuota =
  (hooks: ApiHooks) =>
  ({ state, body, query }: ApiRequest) => {
    const token = query.get('access_token');
    if (!token) return fail(41001);
    if (state.authorizerTokens.has(token)) checkAuthorizerToken(state, token);
    else checkComponentToken(state, token);
    const path = text(body, 'cgi_path');
    const limit = path === undefined ? undefined : DAILY_LIMITS[path];
    if (limit === undefined) return fail(76003);
    const used = hooks.callsOf((path as string).split('/').at(-1) ?? '');
    return { quota: { daily_limit: limit, used, remain: Math.max(0, limit - used) } };
  };

const startPushTicket = (hooks: ApiHooks) => (request: ApiRequest) => {
  const { state, body } = request;
  checkComponentAppid(request);
  const secret = text(body, 'component_secret');
  if (!secret) fail(41004);
  if (secret !== state.component.appSecret) fail(40125);
  hooks.startPushTicket();
  return OK_BODY;
};

/** 客服消息: records text messages so tests can assert what the platform sent to a user. */
const customSend = ({ state, body, query }: ApiRequest) => {
  const account = checkAuthorizerToken(state, query.get('access_token'));
  const toUser = text(body, 'touser');
  if (!toUser) fail(40003, 'invalid openid');
  const content = (body.text as { content?: unknown } | undefined)?.content;
  if (body.msgtype !== 'text' || typeof content !== 'string') fail(40008);
  state.messages.push({ toUser: toUser as string, content: content as string, authorizerAppid: account.appid, at: state.clock() });
  return OK_BODY;
};

/** Path → route: the component APIs (POST JSON) and the on-behalf ones (GET). */
export const createApiRoutes = (hooks: ApiHooks): ReadonlyMap<string, ApiRoute> => {
  const component: [string, ApiRoute['handle']][] = [
    ['api_component_token', componentToken],
    ['api_create_preauthcode', createPreAuthCode],
    ['api_query_auth', queryAuth],
    ['api_authorizer_token', authorizerToken],
    ['api_get_authorizer_info', getAuthorizerInfo],
    ['api_get_authorizer_list', getAuthorizerList],
    ['api_get_authorizer_option', getAuthorizerOption],
    ['api_set_authorizer_option', setAuthorizerOption],
    ['clear_quota', clearQuota],
    ['clear_quota/v2', clearQuotaBySecret],
    ['get_authorizer_option', getOptionOfToken],
    ['set_authorizer_option', setOptionOfToken],
    ['api_start_push_ticket', startPushTicket(hooks)],
  ];
  const routes = new Map<string, ApiRoute>(component.map(([name, handle]) => [`/cgi-bin/component/${name}`, { name, handle }]));
  routes.set('/cgi-bin/message/custom/send', { name: 'message_custom_send', handle: customSend });
  for (const [path, route] of onBehalfRoutes()) routes.set(path, route);
  routes.set('/cgi-bin/openapi/quota/get', { name: 'openapi_quota_get', handle: apiQuota(hooks) });
  return routes;
};
