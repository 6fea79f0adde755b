// Logging users in on behalf of the accounts, invoked directly (IAM) by the operator's backends and by
// `sls invoke local -f login` (docs/on-behalf.md): `{"authorizerAppid","jsCode"}` → the mini-program session,
// `{"authorizerAppid","oauthCode"}` / `{"authorizerAppid","oauthRefreshToken"}` → a web-OAuth user token,
// `{"authorizerAppid","userinfo":{"accessToken","openid"}}` → the user's profile. Expected failures, a spent code
// above all, come back as `{"error":{"type","message","errcode"?}}`, never as a function error.
import { BadRequestError } from '../../lib/kernel/errors.ts';
import { answerLogin } from '../../lib/on-behalf/login.ts';
import { lambda } from '../../lib/runtime/lambda.ts';
import { createWeChatDeps, type WeChatDeps } from '../../lib/runtime/wechat-deps.ts';
import { TokenServiceError } from '../../lib/tokens/errors.ts';
import { isRateLimited, isRevoked, WeChatApiError } from '../../lib/wechat/errors.ts';
import { parseLoginRequest, type LoginReply } from './request.ts';

/** The reply type of an expected failure; undefined for anything else, which is thrown (a real function error). */
const errorType = (error: unknown): string | undefined => {
  if (error instanceof TokenServiceError) return error.type;
  if (error instanceof BadRequestError) return 'bad_request';
  if (isRateLimited(error)) return 'quota_exceeded';
  if (isRevoked(error)) return 'unauthorized';
  if (error instanceof WeChatApiError) return 'wechat_error';
  return undefined;
};

export const createHandler =
  (deps: WeChatDeps) =>
  async (event: unknown): Promise<LoginReply> => {
    try {
      return await answerLogin(deps, parseLoginRequest(event));
    } catch (error) {
      const type = errorType(error);
      if (!type) throw error;
      const errcode = (error as { errcode?: unknown }).errcode;
      deps.logger.warn('login.request_failed', { type, errcode: typeof errcode === 'number' ? errcode : undefined }, error);
      return { error: { type, message: (error as Error).message, ...(typeof errcode === 'number' ? { errcode } : {}) } };
    }
  };

export const handler = lambda(createWeChatDeps, createHandler);
