// The central token service, invoked directly (IAM) by other services and by `sls invoke local -f token`:
// `{}` → the component token, `{"authorizerAppid":"wx…"}` → that account's token, `{"list":true}` → the
// operator view without any token. Expected failures come back as `{"error":{"type","message"}}` (lib/runtime/invoke.ts).
import { createWeChatDeps, type WeChatDeps } from '../../lib/runtime/wechat-deps.ts';
import { lambda } from '../../lib/runtime/lambda.ts';
import { invokeErrorBoundary } from '../../lib/runtime/invoke.ts';
import { listAuthorizers } from '../../lib/store/authorizers.ts';
import { getAuthorizerAccessToken } from '../../lib/tokens/authorizer-token.ts';
import { getComponentAccessToken } from '../../lib/tokens/component-token.ts';
import { parseTokenRequest, toOperatorRow, type TokenReply } from './request.ts';

export const createHandler =
  (deps: WeChatDeps) =>
  async (event: unknown): Promise<TokenReply> => {
    const request = parseTokenRequest(event);
    if (request.kind === 'list') {
      const page = await listAuthorizers(deps, request.cursor ? { cursor: request.cursor } : {});
      return { authorizers: page.authorizers.map(toOperatorRow), ...(page.cursor ? { cursor: page.cursor } : {}) };
    }
    const token = request.kind === 'authorizer' ? await getAuthorizerAccessToken(deps, request.authorizerAppid) : await getComponentAccessToken(deps);
    return { accessToken: token.accessToken, expiresAt: token.expiresAt };
  };

export const handler = lambda(createWeChatDeps, createHandler, { edge: invokeErrorBoundary });
