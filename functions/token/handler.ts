// The central token service, invoked directly (IAM) by other services and by `sls invoke local -f token`:
// `{}` → the component token, `{"authorizerAppid":"wx…"}` → that account's token, `{"list":true}` → the
// operator view without any token, and the JS-SDK ticket and wx.config signature of an official account
// (docs/on-behalf.md). Expected failures, WeChat API errors included (with their errcode), come back as
// `{"error":{"type","message"[,"errcode","api"]}}` (lib/runtime/invoke.ts); anything else fails the invocation.
import type { Context } from 'aws-lambda';
import { createWeChatDeps, type WeChatDeps } from '../../lib/runtime/wechat-deps.ts';
import { invokeErrorBoundary, invokeFailure, type InvokeFailure } from '../../lib/runtime/invoke.ts';
import { lambda } from '../../lib/runtime/lambda.ts';
import { answerJsapi } from '../../lib/on-behalf/jsapi.ts';
import { listAuthorizers } from '../../lib/store/authorizers.ts';
import { getAuthorizerAccessToken } from '../../lib/tokens/authorizer-token.ts';
import { getComponentAccessToken } from '../../lib/tokens/component-token.ts';
import { parseTokenRequest, toOperatorRow, type TokenReply } from './request.ts';

/** The reply of an expected failure; undefined for anything else, which is thrown (a real 500). */
const failureOf = (error: unknown): InvokeFailure | undefined => invokeFailure(error);

export const createHandler =
  (deps: WeChatDeps) =>
  async (event: unknown, context?: Pick<Context, 'awsRequestId'>): Promise<TokenReply> => {
    try {
      const request = parseTokenRequest(event);
      if (request.kind === 'list') {
        const page = await listAuthorizers(deps, request.cursor ? { cursor: request.cursor } : {});
        return { authorizers: page.authorizers.map(toOperatorRow), ...(page.cursor ? { cursor: page.cursor } : {}) };
      }
      if (request.kind === 'jsapiTicket' || request.kind === 'jsapiSignature') return await answerJsapi(deps, request);
      const token =
        request.kind === 'authorizer' ? await getAuthorizerAccessToken(deps, request.authorizerAppid) : await getComponentAccessToken(deps);
      // Every hand-out is on record (which account, which invocation), never the token itself (docs/operations.md).
      const appid = request.kind === 'authorizer' ? request.authorizerAppid : deps.config.componentAppId;
      deps.logger.info('token.handed_out', { kind: request.kind, appid, requestId: context?.awsRequestId, expiresAt: token.expiresAt });
      return { accessToken: token.accessToken, expiresAt: token.expiresAt };
    } catch (error) {
      const failure = failureOf(error);
      if (!failure) throw error;
      deps.logger.warn('token.request_failed', { type: failure.type, errcode: failure.errcode }, error);
      return { error: failure };
    }
  };

export const handler = lambda(createWeChatDeps, createHandler, { edge: invokeErrorBoundary });
