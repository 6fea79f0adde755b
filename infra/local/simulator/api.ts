// The WeChat APIs the simulator answers (PROTOCOL.md §1.7), with WeChat's shapes and error codes (§1.9).
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

export interface ApiRequest {
  readonly state: SimState;
  readonly body: Record<string, unknown>;
  readonly query: URLSearchParams;
}

export interface ApiRoute {
  /** The name calls are counted, logged and injected under, e.g. `api_component_token`. */
  readonly name: string;
  readonly handle: (request: ApiRequest) => object;
}

export interface ApiHooks {
  /** Called after api_start_push_ticket succeeds: WeChat pushes a ticket shortly after answering. */
  readonly startPushTicket: () => void;
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
      ...(account.apiAccess ? { authorizer_refresh_token: account.refreshToken } : {}),
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
      ...(account.apiAccess ? { authorizer_refresh_token: account.refreshToken } : {}),
      func_info: funcInfoJson(account),
    },
  };
};

const getAuthorizerList = (request: ApiRequest) => {
  withComponentToken(request);
  const { offset, count } = request.body;
  if (typeof offset !== 'number' || typeof count !== 'number' || offset < 0 || count < 1 || count > 500) fail(40097);
  const all = [...request.state.accounts.values()].filter((a) => a.status === 'authorized' && a.apiAccess);
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

/** Path → route. Everything is POST JSON, like WeChat's component APIs. */
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
    ['api_start_push_ticket', startPushTicket(hooks)],
  ];
  const routes = new Map<string, ApiRoute>(component.map(([name, handle]) => [`/cgi-bin/component/${name}`, { name, handle }]));
  routes.set('/cgi-bin/message/custom/send', { name: 'message_custom_send', handle: customSend });
  return routes;
};
