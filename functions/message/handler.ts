// 消息与事件接收URL: POST /wechat/authorizers/{appid}/callback (`$APPID$` in the WeChat console). Messages and
// events of every authorized account, and the full-network release checks. Answers an encrypted passive
// reply, an empty body, or `success`; never calls WeChat, so the answer leaves well inside 5 s.
import { createDeps, type Deps } from '../../lib/runtime/deps.ts';
import { httpErrorBoundary, rawBody, text, type HttpEvent, type HttpResult } from '../../lib/runtime/http.ts';
import type { MessageHandlerRegistry } from '../../lib/intake/message-handlers.ts';
import { messageHandlers } from '../../lib/intake/registrations.ts';
import { lambda } from '../../lib/runtime/lambda.ts';
import { handleAccountMessage } from '../../lib/intake/account-message.ts';

export const createHandler =
  (deps: Deps, registry: MessageHandlerRegistry = messageHandlers) =>
  async (event: HttpEvent): Promise<HttpResult> => {
    const query = event.queryStringParameters ?? {};
    const answer = await handleAccountMessage(
      deps,
      {
        authorizerAppid: event.pathParameters?.appid,
        msgSignature: query.msg_signature,
        timestamp: query.timestamp,
        nonce: query.nonce,
        body: rawBody(event),
      },
      registry,
    );
    if (answer.kind === 'reply') return text(200, answer.xml, 'application/xml; charset=utf-8');
    // An empty body or `success` both tell WeChat not to retry (docs/protocol.md §1.5).
    return text(200, answer.kind === 'empty' ? '' : 'success', 'text/plain');
  };

export const handler = lambda(createDeps, (deps: Deps) => createHandler(deps), { edge: httpErrorBoundary });
