// GET /wechat/component/authorize?link=…: the start page for a signed link (both authorization links); anything
// else is refused with a 403 page before any table read or WeChat call.
// GET /wechat/component/authorized?state=…&auth_code=…: WeChat's redirect after the owner authorized; with a valid
// state it completes the authorization, without one it calls nobody (WeChat's push completes it).
import { LinkRefusedError } from '../../lib/authorization/links.ts';
import { createMetrics, type Metrics } from '../../lib/kernel/metrics.ts';
import { httpErrorBoundary, text, type HttpEvent, type HttpResult } from '../../lib/runtime/http.ts';
import { lambda } from '../../lib/runtime/lambda.ts';
import { createWeChatDeps, type WeChatDeps } from '../../lib/runtime/wechat-deps.ts';
import { describeFailure, isQuotaExhausted, renderErrorPage } from './pages.ts';
import { LANDING_PATH, refusal } from './request.ts';
import { landingPage, startPage } from './routes.ts';

// `origin`: WeChat checks that the authorization link was opened from our domain (docs/protocol.md §1.8).
const HEADERS = {
  'referrer-policy': 'origin',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'strict-transport-security': 'max-age=63072000; includeSubDomains',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

const html = (statusCode: number, body: string): HttpResult => {
  const result = text(statusCode, body, 'text/html; charset=utf-8');
  return { ...result, headers: { ...result.headers, ...HEADERS } };
};

export const createHandler =
  (deps: WeChatDeps, metrics: Metrics = createMetrics()) =>
  async (event: HttpEvent): Promise<HttpResult> => {
    try {
      return html(200, await (event.rawPath?.endsWith(LANDING_PATH) ? landingPage(deps, event) : startPage(deps, event)));
    } catch (error) {
      const failure = describeFailure(error);
      if (!failure) throw error;
      if (isQuotaExhausted(error)) metrics.put({ AuthorizationPageQuotaExhausted: 1 }, { Api: error.api }, { rollup: true });
      const fields = error instanceof LinkRefusedError ? refusal(error, event.rawPath) : { path: event.rawPath };
      deps.logger.warn('authorize.page_failed', { ...fields, status: failure.status }, error);
      return html(failure.status, renderErrorPage(failure));
    }
  };

export const handler = lambda(createWeChatDeps, (deps: WeChatDeps) => createHandler(deps), { edge: httpErrorBoundary });
