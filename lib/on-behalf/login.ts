// Logging users in on behalf of the accounts (docs/on-behalf.md): a mini program's wx.login() code through
// the component's jscode2session, and an official account page's web-OAuth code, refresh token or userinfo
// (oauth.ts). What the `login` function answers. Codes are single-use, so a refused code is never retried;
// the session key and user tokens go back to the caller and are never stored or logged.
import { protectSecret } from '../kernel/logger.ts';
import type { WeChatDeps } from '../runtime/wechat-deps.ts';
import { withComponentToken } from '../tokens/component-token.ts';
import type { WeChatApiError } from '../wechat/errors.ts';
import { isCodeInvalid, type MiniProgramSession, type OAuthUserInfo } from '../wechat/on-behalf-client.ts';
import { InvalidCodeError } from './errors.ts';
import { exchangeOAuthCode, getOAuthUserinfo, refreshOAuthToken, requireAuthorizer, type UserToken } from './oauth.ts';

export type LoginRequest =
  | { readonly kind: 'jsCode'; readonly authorizerAppid: string; readonly jsCode: string }
  | { readonly kind: 'oauthCode'; readonly authorizerAppid: string; readonly oauthCode: string }
  | { readonly kind: 'oauthRefreshToken'; readonly authorizerAppid: string; readonly oauthRefreshToken: string }
  | { readonly kind: 'userinfo'; readonly authorizerAppid: string; readonly accessToken: string; readonly openid: string };

export type LoginAnswer = MiniProgramSession | UserToken | OAuthUserInfo;

/**
 * The mini-program user behind a wx.login() code: openid, session key and (when WeChat reveals it) unionid,
 * through the component with the component token. A spent, expired or foreign code is InvalidCodeError.
 * @see https://developers.weixin.qq.com/doc/oplatform/openApi/miniprogram-management/login/api_thirdpartycode2session.html
 */
export const miniProgramLogin = async (deps: WeChatDeps, authorizerAppid: string, jsCode: string): Promise<MiniProgramSession> => {
  protectSecret(jsCode);
  await requireAuthorizer(deps, authorizerAppid);
  try {
    const session = await withComponentToken(deps, (token) =>
      deps.wechat.componentJscode2session(token, { componentAppId: deps.config.componentAppId, authorizerAppid, jsCode }),
    );
    deps.logger.info('login.mini_program', { authorizerAppid, unionid: session.unionid !== undefined });
    return session;
  } catch (error) {
    if (!isCodeInvalid(error)) throw error;
    const e = error as WeChatApiError;
    throw new InvalidCodeError(
      `WeChat refused the js_code (errcode ${e.errcode}): it was already used, is older than 5 minutes or was issued to another ` +
        `mini program than ${authorizerAppid}. Call wx.login() again and send the new code; never retry a code`,
      { cause: error, errcode: e.errcode },
    );
  }
};

/** The `login` function's answer to one request. */
export const answerLogin = (deps: WeChatDeps, request: LoginRequest): Promise<LoginAnswer> => {
  switch (request.kind) {
    case 'jsCode':
      return miniProgramLogin(deps, request.authorizerAppid, request.jsCode);
    case 'oauthCode':
      return exchangeOAuthCode(deps, request.authorizerAppid, request.oauthCode);
    case 'oauthRefreshToken':
      return refreshOAuthToken(deps, request.authorizerAppid, request.oauthRefreshToken);
    case 'userinfo':
      return getOAuthUserinfo(deps, request.authorizerAppid, { accessToken: request.accessToken, openid: request.openid });
  }
};
