// GET /wechat/component/authorize: the start page with both authorization links (fresh pre_auth_code).
// GET /wechat/component/authorized: WeChat's redirect after the owner authorized; completes the authorization.
import { nowSeconds } from '../../lib/kernel/clock.ts';
import { createWeChatDeps, type WeChatDeps } from '../../lib/runtime/wechat-deps.ts';
import { httpErrorBoundary, text, type HttpEvent, type HttpResult } from '../../lib/runtime/http.ts';
import { lambda } from '../../lib/runtime/lambda.ts';
import {
  completeAuthorization,
  LANDING_PATH,
  parseLandingQuery,
  parseStartQuery,
  startAuthorization,
} from '../../lib/authorization/authorization.ts';
import { describeFailure, renderAuthorizedPage, renderErrorPage, renderStartPage } from './pages.ts';

/** The landing page waits this long for a push consumer already exchanging the same code (function timeout 10 s). */
const LANDING_WAIT_MS = 6_000;
const AUTH_TYPES = { 1: 'official account', 2: 'mini program', 3: 'official account or mini program' } as const;

const html = (statusCode: number, body: string): HttpResult => {
  const result = text(statusCode, body, 'text/html; charset=utf-8');
  // `origin`: WeChat checks that the authorization link was opened from our domain (docs/protocol.md §1.8).
  const headers = { 'referrer-policy': 'origin', 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY' };
  const csp = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
  return { ...result, headers: { ...result.headers, ...headers, 'content-security-policy': csp } };
};

const page = async (deps: WeChatDeps, event: HttpEvent): Promise<string> => {
  const query = event.queryStringParameters;
  if (event.rawPath?.endsWith(LANDING_PATH)) {
    const { authorizationCode, expiresIn } = parseLandingQuery(query);
    // No authorizedAt: the exchange's time stands for it (an old URL reloaded must not look like a new authorization).
    const codeExpiresAt = nowSeconds(deps.clock) + expiresIn;
    const done = await completeAuthorization(deps, { authorizationCode, codeExpiresAt, waitMs: LANDING_WAIT_MS });
    return renderAuthorizedPage(done);
  }
  const request = parseStartQuery(query);
  const links = await startAuthorization(deps, request);
  return renderStartPage({
    ...links,
    expiresInS: links.expiresIn,
    authTypeLabel: AUTH_TYPES[request.authType],
    ...(request.bizAppid ? { bizAppid: request.bizAppid } : {}),
  });
};

export const createHandler =
  (deps: WeChatDeps) =>
  async (event: HttpEvent): Promise<HttpResult> => {
    try {
      return html(200, await page(deps, event));
    } catch (error) {
      const failure = describeFailure(error);
      if (!failure) throw error;
      deps.logger.warn('authorize.page_failed', { path: event.rawPath, status: failure.status }, error);
      return html(failure.status, renderErrorPage(failure));
    }
  };

export const handler = lambda(createWeChatDeps, createHandler, { edge: httpErrorBoundary });
