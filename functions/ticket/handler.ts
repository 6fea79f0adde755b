// 授权事件接收URL: POST /wechat/component/events. Every component push (ticket, authorization events,
// fast registration, …) arrives here; the answer is exactly `success` once the push is durably stored.
import { createDeps, type Deps } from '../../lib/runtime/deps.ts';
import { httpErrorBoundary, rawBody, text, type HttpEvent, type HttpResult } from '../../lib/runtime/http.ts';
import { lambda } from '../../lib/runtime/lambda.ts';
import { receiveComponentPush } from '../../lib/intake/component-push.ts';

export const createHandler =
  (deps: Deps) =>
  async (event: HttpEvent): Promise<HttpResult> => {
    const query = event.queryStringParameters ?? {};
    await receiveComponentPush(deps, {
      msgSignature: query.msg_signature,
      timestamp: query.timestamp,
      nonce: query.nonce,
      body: rawBody(event),
    });
    // WeChat accepts only these 7 bytes; anything else counts as a failed delivery (docs/protocol.md §1.5).
    return text(200, 'success', 'text/plain');
  };

export const handler = lambda(createDeps, createHandler, { edge: httpErrorBoundary });
