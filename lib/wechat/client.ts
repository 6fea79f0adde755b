// The WeChat component API client (docs/protocol.md §1.7): one function per endpoint, one private `post`.
// Stateless: tokens are passed in, never fetched or cached here (the token service owns them).
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
// undici's Agent and request() from their own modules: the package index also loads fetch, WebSocket, the cache
// stores, the mock agents and the rest, half of what undici costs a cold start (docs/performance.md). undici is
// pinned (package.json); the client tests run through these modules, with MockAgent from the index as dispatcher.
import Agent from 'undici/lib/dispatcher/agent.js';
import request from 'undici/lib/api/api-request.js';
import { sleep } from '../kernel/clock.ts';
import { WECHAT_ATTEMPT_MS, WECHAT_MAX_RETRIES, WECHAT_RETRY_BASE_MS } from '../kernel/limits.ts';
import { protectSecret, type Logger } from '../kernel/logger.ts';
import * as map from './responses.ts';
import type { Body, WeChatClient } from './responses.ts';
import { WeChatApiError, WeChatNetworkError, WeChatProtocolError } from './errors.ts';
import { buildCodeManagementApi } from './code-management.ts';
import type { CodeManagementApi } from './code-management-types.ts';
import { buildOnBehalfApi, ON_BEHALF_NO_AMBIGUOUS_RETRY, ON_BEHALF_PATHS, type OnBehalfApi } from './on-behalf-client.ts';

export type * from './responses.ts';
export type * from './code-management-types.ts';

const PATHS = {
  apiComponentToken: '/cgi-bin/component/api_component_token',
  apiCreatePreauthcode: '/cgi-bin/component/api_create_preauthcode',
  apiQueryAuth: '/cgi-bin/component/api_query_auth',
  apiAuthorizerToken: '/cgi-bin/component/api_authorizer_token',
  apiGetAuthorizerInfo: '/cgi-bin/component/api_get_authorizer_info',
  apiGetAuthorizerList: '/cgi-bin/component/api_get_authorizer_list',
  apiGetAuthorizerOption: '/cgi-bin/component/api_get_authorizer_option',
  apiSetAuthorizerOption: '/cgi-bin/component/api_set_authorizer_option',
  clearComponentQuota: '/cgi-bin/component/clear_quota',
  getAuthorizerOption: '/cgi-bin/component/get_authorizer_option',
  setAuthorizerOption: '/cgi-bin/component/set_authorizer_option',
  clearComponentQuotaV2: '/cgi-bin/component/clear_quota/v2',
  getApiQuota: '/cgi-bin/openapi/quota/get',
  apiStartPushTicket: '/cgi-bin/component/api_start_push_ticket',
  sendCustomText: '/cgi-bin/message/custom/send',
  ...ON_BEHALF_PATHS,
} as const;
export type ApiName = keyof typeof PATHS;

/** The name errors and log lines carry: the path below /cgi-bin/, e.g. `component/api_query_auth`, or `sns/userinfo`. */
export const apiLabel = (name: ApiName): string => PATHS[name].replace(/^\/(cgi-bin\/)?/, '');

/**
 * APIs never repeated after an *ambiguous* failure (timeout, reset, 5xx: the request may have been executed):
 * - api_component_token / api_authorizer_token mint a token; a lost answer plus a retry mints another, burning
 *   the scarce daily quota (§1.10) and stretching the refresh lease the caller holds. The token service decides.
 * - api_query_auth: the authorization code is reported single-use; a retry would turn the real network
 *   failure into a misleading 61009 "code is invalid".
 * They are still retried on errcode -1 (WeChat answered that it failed) and when no connection was made.
 */
export const NO_AMBIGUOUS_RETRY: ReadonlySet<ApiName> = new Set<ApiName>([
  'apiComponentToken',
  'apiAuthorizerToken',
  'apiQueryAuth',
  ...ON_BEHALF_NO_AMBIGUOUS_RETRY,
]);

/** Failures where the request provably never left this process, so a retry cannot execute anything twice. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

export interface WeChatClientOptions {
  /** config.wechatApiBaseUrl: https://api.weixin.qq.com in production, the simulator locally. */
  baseUrl: string;
  logger: Logger;
  /** Tests inject undici's MockAgent; production gets one keep-alive Agent per client. */
  dispatcher?: Dispatcher;
  /** Bound on one attempt, connect to last body byte. */
  timeoutMs?: number;
  maxRetries?: number;
  /** Full-jitter backoff: attempt n waits random(0, retryBaseMs * 2^(n-1)). */
  retryBaseMs?: number;
}

type RetryKind = 'safe' | 'ambiguous' | 'never';

const retryKind = (error: unknown): RetryKind => {
  if (error instanceof WeChatApiError) return error.errcode === -1 ? 'safe' : 'never';
  if (error instanceof WeChatNetworkError) return NOT_SENT_CODES.has(errorCode(error.cause) ?? '') ? 'safe' : 'ambiguous';
  if (error instanceof WeChatProtocolError) return (error.statusCode ?? 0) >= 500 ? 'ambiguous' : 'never';
  return 'never';
};

const errorCode = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
};

const isTimeout = (error: unknown): boolean => (error instanceof Error && error.name === 'TimeoutError') || TIMEOUT_CODES.has(errorCode(error) ?? '');

/** Turns one HTTP answer into a success body or a typed error. WeChat reports failures as HTTP 200. */
const parseAnswer = (api: string, status: number, text: string): Body => {
  if (status < 200 || status > 299) throw new WeChatProtocolError(api, `HTTP ${status}`, status);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new WeChatProtocolError(api, 'body is not JSON', status);
  }
  if (!map.isBody(body)) throw new WeChatProtocolError(api, 'body is not a JSON object', status);
  if (body.errcode !== undefined && body.errcode !== null && Number(body.errcode) !== 0) {
    throw new WeChatApiError(api, Number(body.errcode), typeof body.errmsg === 'string' ? body.errmsg : '');
  }
  return body;
};

/**
 * One call as the client sends it: the code-management APIs (lib/wechat/code-management.ts) use GET for reads
 * and one of them answers with an image, so the transport takes the method and how to read the answer.
 */
export interface WeChatRequest {
  /** The name errors and log lines carry, e.g. `wxa/commit`. */
  readonly api: string;
  readonly path: string;
  readonly method: 'GET' | 'POST';
  readonly query: Record<string, string>;
  /** POST only; sent as JSON. */
  readonly body?: Body;
  /** Repeat after an ambiguous failure (timeout, reset, 5xx)? Only for calls that change nothing on WeChat's side. */
  readonly ambiguousRetry: boolean;
}

/** An answer that is not JSON (get_qrcode's image). */
export interface WeChatBytes {
  readonly contentType: string;
  readonly bytes: Buffer;
}

export interface WeChatTransport {
  /** A JSON answer with errcode 0 (or none); a typed error otherwise. */
  json(request: WeChatRequest): Promise<Body>;
  /** A binary answer; a JSON answer is read as an error (WeChat reports failures of binary APIs as JSON). */
  bytes(request: WeChatRequest): Promise<WeChatBytes>;
}

interface RawAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly data: Buffer;
}

const isJsonAnswer = (raw: RawAnswer): boolean => /json|text\/plain/i.test(raw.contentType) || raw.data.subarray(0, 1).toString() === '{';

const readBytes = (api: string, raw: RawAnswer): WeChatBytes => {
  if (raw.status < 200 || raw.status > 299) throw new WeChatProtocolError(api, `HTTP ${raw.status}`, raw.status);
  if (isJsonAnswer(raw)) {
    parseAnswer(api, raw.status, raw.data.toString('utf8'));
    throw new WeChatProtocolError(api, 'expected binary data, got a JSON success body', raw.status);
  }
  return { contentType: raw.contentType, bytes: raw.data };
};

/** One HTTP exchange. The signal bounds it end to end, body included; the Agent's timeouts only bound phases. */
const attempt = async (dispatcher: Dispatcher, timeoutMs: number, req: WeChatRequest, url: string, n: number): Promise<RawAnswer> => {
  try {
    const target = new URL(url);
    const res = await request.call(dispatcher, {
      origin: target.origin,
      path: `${target.pathname}${target.search}`,
      method: req.method,
      ...(req.method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(req.body ?? {}) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const contentType = String(res.headers['content-type'] ?? '');
    return { status: res.statusCode, contentType, data: Buffer.from(await res.body.arrayBuffer()) };
  } catch (error) {
    throw new WeChatNetworkError(req.api, n, { cause: error, timedOut: isTimeout(error) });
  }
};

/** Creates a client with its own pooled keep-alive connections (or the injected dispatcher). */
export const createWeChatClient = (options: WeChatClientOptions): WeChatClient => {
  const { logger, timeoutMs = WECHAT_ATTEMPT_MS, maxRetries = WECHAT_MAX_RETRIES, retryBaseMs = WECHAT_RETRY_BASE_MS } = options;
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const dispatcher =
    options.dispatcher ?? new Agent({ keepAliveTimeout: 4000, connect: { timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });

  const call = async <T>(req: WeChatRequest, read: (raw: RawAnswer) => T): Promise<T> => {
    const { api } = req;
    const search = new URLSearchParams(req.query).toString();
    const url = `${baseUrl}${req.path}${search ? `?${search}` : ''}`;
    for (let n = 1; ; n += 1) {
      const started = performance.now();
      try {
        const result = read(await attempt(dispatcher, timeoutMs, req, url, n));
        logger.debug('wechat.call', { api, attempt: n, ms: Math.round(performance.now() - started) });
        return result;
      } catch (error) {
        const kind = retryKind(error);
        const allowed = kind === 'safe' || (kind === 'ambiguous' && req.ambiguousRetry);
        if (!allowed || n > maxRetries) throw error;
        const delayMs = Math.round(Math.random() * retryBaseMs * 2 ** (n - 1));
        const e = error as { errcode?: number; statusCode?: number; timedOut?: boolean };
        logger.warn('wechat.retry', { api, attempt: n, errcode: e.errcode, statusCode: e.statusCode, timedOut: e.timedOut, delayMs });
        await sleep(delayMs);
      }
    }
  };

  const transport: WeChatTransport = {
    json: (req) => call(req, (raw) => parseAnswer(req.api, raw.status, raw.data.toString('utf8'))),
    bytes: (req) => call(req, (raw) => readBytes(req.api, raw)),
  };
  /** POST with a JSON body, or GET (query only) when `body` is undefined. */
  const send = (name: ApiName, query: Record<string, string>, body: Body | undefined) =>
    transport.json({
      api: apiLabel(name),
      path: PATHS[name],
      method: body === undefined ? 'GET' : 'POST',
      query,
      ...(body === undefined ? {} : { body }),
      ambiguousRetry: !NO_AMBIGUOUS_RETRY.has(name),
    });

  return {
    ...buildApi((name, query, body) => send(name, query, body)),
    ...buildOnBehalfApi((name, query) => send(name, query, undefined)),
    ...buildCodeManagementApi(transport),
  };
};

type Post = (name: ApiName, query: Record<string, string>, body: Body) => Promise<Body>;

/** The query string of component APIs; the token is registered as a secret before it goes anywhere. */
const componentQuery = (componentAccessToken: string) => {
  protectSecret(componentAccessToken);
  return { component_access_token: componentAccessToken };
};

const secrets = (...values: string[]): void => values.forEach(protectSecret);

const buildApi = (post: Post): Omit<WeChatClient, keyof CodeManagementApi | keyof OnBehalfApi> => ({
  /** @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/component_access_token.html */
  async apiComponentToken({ componentAppId, componentAppSecret, componentVerifyTicket }) {
    secrets(componentAppSecret, componentVerifyTicket);
    const body = { component_appid: componentAppId, component_appsecret: componentAppSecret, component_verify_ticket: componentVerifyTicket };
    return map.toComponentToken(apiLabel('apiComponentToken'), await post('apiComponentToken', {}, body));
  },
  /** @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/pre_auth_code.html */
  async apiCreatePreauthcode(token, { componentAppId }) {
    const body = await post('apiCreatePreauthcode', componentQuery(token), { component_appid: componentAppId });
    return map.toPreAuthCode(apiLabel('apiCreatePreauthcode'), body);
  },
  /** @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/authorization_info.html */
  async apiQueryAuth(token, { componentAppId, authorizationCode }) {
    secrets(authorizationCode);
    const body = await post('apiQueryAuth', componentQuery(token), { component_appid: componentAppId, authorization_code: authorizationCode });
    const api = apiLabel('apiQueryAuth');
    return map.toAuthorizationInfo(api, map.reader(api).object(body, 'authorization_info'));
  },
  /** @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/api/api_authorizer_token.html */
  async apiAuthorizerToken(token, { componentAppId, authorizerAppid, authorizerRefreshToken }) {
    secrets(authorizerRefreshToken);
    const payload = { component_appid: componentAppId, authorizer_appid: authorizerAppid, authorizer_refresh_token: authorizerRefreshToken };
    return map.toAuthorizerToken(apiLabel('apiAuthorizerToken'), await post('apiAuthorizerToken', componentQuery(token), payload));
  },
  /** @see https://developers.weixin.qq.com/doc/oplatform/openApi/OpenApiDoc/authorization-management/getAuthorizerInfo.html */
  async apiGetAuthorizerInfo(token, { componentAppId, authorizerAppid }) {
    const body = await post('apiGetAuthorizerInfo', componentQuery(token), { component_appid: componentAppId, authorizer_appid: authorizerAppid });
    const api = apiLabel('apiGetAuthorizerInfo');
    const authorizationInfo = map.toAuthorizationInfo(api, map.reader(api).object(body, 'authorization_info'));
    return { authorizerInfo: map.toAuthorizerInfo(api, body), authorizationInfo };
  },
  /** @see https://developers.weixin.qq.com/doc/oplatform/openApi/OpenApiDoc/authorization-management/getAuthorizerList.html */
  async apiGetAuthorizerList(token, { componentAppId, offset, count }) {
    const body = await post('apiGetAuthorizerList', componentQuery(token), { component_appid: componentAppId, offset, count });
    return map.toAuthorizerList(apiLabel('apiGetAuthorizerList'), body);
  },
  /** @see https://developers.weixin.qq.com/doc/oplatform/en/Third-party_Platforms/api/api_get_authorizer_option.html */
  async apiGetAuthorizerOption(token, { componentAppId, authorizerAppid, optionName }) {
    const payload = { component_appid: componentAppId, authorizer_appid: authorizerAppid, option_name: optionName };
    return map.toAuthorizerOption(apiLabel('apiGetAuthorizerOption'), await post('apiGetAuthorizerOption', componentQuery(token), payload));
  },
  /** @see https://developers.weixin.qq.com/doc/oplatform/en/Third-party_Platforms/api/api_set_authorizer_option.html */
  async apiSetAuthorizerOption(token, { componentAppId, authorizerAppid, optionName, optionValue }) {
    const payload = { component_appid: componentAppId, authorizer_appid: authorizerAppid, option_name: optionName, option_value: optionValue };
    await post('apiSetAuthorizerOption', componentQuery(token), payload);
  },
  /** Clears the component's own API quota (10 per month). @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/Official_Accounts/Official_account_interface.html */
  async clearComponentQuota(token, { componentAppId }) {
    await post('clearComponentQuota', componentQuery(token), { component_appid: componentAppId });
  },
  /** The current get-option path, with the account's own token (docs/protocol.md §1.7). */
  async getAuthorizerOption(token, { optionName }) {
    secrets(token);
    const api = apiLabel('getAuthorizerOption');
    return map.toAuthorizerOption(api, await post('getAuthorizerOption', { access_token: token }, { option_name: optionName }));
  },
  /** The current set-option path, with the account's own token (docs/protocol.md §1.7). */
  async setAuthorizerOption(token, { optionName, optionValue }) {
    secrets(token);
    await post('setAuthorizerOption', { access_token: token }, { option_name: optionName, option_value: optionValue });
  },
  /** Clear quota by the app secret; 10 clears a month, shared with every other clear_quota (docs/protocol.md §1.7, §1.10). */
  async clearComponentQuotaV2({ componentAppId, appSecret, appid }) {
    secrets(appSecret);
    await post('clearComponentQuotaV2', {}, { component_appid: componentAppId, appsecret: appSecret, ...(appid ? { appid } : {}) });
  },
  /** One API's daily quota for the token's owner; 76003 for an unknown path (docs/protocol.md §1.7, §1.10). */
  async getApiQuota(token, { cgiPath }) {
    secrets(token);
    return map.toApiQuota(apiLabel('getApiQuota'), await post('getApiQuota', { access_token: token }, { cgi_path: cgiPath }));
  },
  /** @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/component_verify_ticket_service.html */
  async apiStartPushTicket({ componentAppId, componentSecret }) {
    secrets(componentSecret);
    await post('apiStartPushTicket', {}, { component_appid: componentAppId, component_secret: componentSecret });
  },
  /** A customer-service text message on behalf of an account (the release check's API case). @see https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Service_Center_messages.html */
  async sendCustomText(authorizerAccessToken, { toUser, content }) {
    secrets(authorizerAccessToken);
    await post('sendCustomText', { access_token: authorizerAccessToken }, { touser: toUser, msgtype: 'text', text: { content } });
  },
});
