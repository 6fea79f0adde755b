// The central token service, invoked directly (IAM) by other services and by `sls invoke local -f token`:
// `{}` → the component token, `{"authorizerAppid":"wx…"}` → that account's token, `{"list":true}` → the
// operator view without any token. Expected failures come back as `{"error":{"type","message"}}`.
import { createWeChatDeps, type WeChatDeps } from '../../lib/runtime/wechat-deps.ts';
import { lambda } from '../../lib/runtime/lambda.ts';
import { InvalidCursorError, listAuthorizers } from '../../lib/store/authorizers.ts';
import { getAuthorizerAccessToken } from '../../lib/tokens/authorizer-token.ts';
import { getComponentAccessToken } from '../../lib/tokens/component-token.ts';
import { TokenServiceError } from '../../lib/tokens/errors.ts';
import { parseTokenRequest, TokenRequestError, toOperatorRow, type TokenReply } from './request.ts';

/** The reply type of an expected failure; undefined for anything else, which is thrown (a real 500). */
const errorType = (error: unknown): string | undefined => {
  if (error instanceof TokenServiceError || error instanceof TokenRequestError) return error.type;
  if (error instanceof InvalidCursorError) return 'bad_request';
  return undefined;
};

export const createHandler =
  (deps: WeChatDeps) =>
  async (event: unknown): Promise<TokenReply> => {
    try {
      const request = parseTokenRequest(event);
      if (request.kind === 'list') {
        const page = await listAuthorizers(deps, request.cursor ? { cursor: request.cursor } : {});
        return { authorizers: page.authorizers.map(toOperatorRow), ...(page.cursor ? { cursor: page.cursor } : {}) };
      }
      const token =
        request.kind === 'authorizer' ? await getAuthorizerAccessToken(deps, request.authorizerAppid) : await getComponentAccessToken(deps);
      return { accessToken: token.accessToken, expiresAt: token.expiresAt };
    } catch (error) {
      const type = errorType(error);
      if (!type) throw error;
      deps.logger.warn('token.request_failed', { type }, error);
      return { error: { type, message: (error as Error).message } };
    }
  };

export const handler = lambda(createWeChatDeps, createHandler);
