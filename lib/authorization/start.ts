// The start page's side of the authorization lifecycle (PROTOCOL.md §1.8): both authorization links from a
// fresh pre_auth_code. Completing an authorization from its code is in exchange.ts.
import type { WeChatDeps } from '../runtime/wechat-deps.ts';
import { withComponentToken } from '../tokens/index.ts';

export const LANDING_PATH = '/wechat/component/authorized';

export type AuthType = 1 | 2 | 3;
export interface StartRequest {
  readonly authType: AuthType;
  readonly bizAppid?: string;
}

export interface AuthorizationLinks {
  readonly pcUrl: string;
  readonly mobileUrl: string;
  readonly expiresIn: number;
}

/** Both authorization links (PROTOCOL.md §1.8) for one pre_auth_code. */
export const authorizationUrls = (i: { componentAppId: string; preAuthCode: string; redirectUri: string } & StartRequest) => {
  const params = new URLSearchParams({
    component_appid: i.componentAppId,
    pre_auth_code: i.preAuthCode,
    redirect_uri: i.redirectUri,
    auth_type: String(i.authType),
  });
  if (i.bizAppid) params.set('biz_appid', i.bizAppid);
  const mobile = new URLSearchParams({ action: 'bindcomponent', no_scan: '1' });
  for (const [k, v] of params) mobile.set(k, v);
  return {
    pcUrl: `https://mp.weixin.qq.com/cgi-bin/componentloginpage?${params}`,
    mobileUrl: `https://mp.weixin.qq.com/safe/bindcomponent?${mobile}#wechat_redirect`,
  };
};

/**
 * Links for the start page from a fresh pre_auth_code (one per page view; they expire in minutes).
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/pre_auth_code.html
 */
export const startAuthorization = async (deps: WeChatDeps, request: StartRequest): Promise<AuthorizationLinks> => {
  const componentAppId = deps.config.componentAppId;
  const { preAuthCode, expiresIn } = await withComponentToken(deps, (token) => deps.wechat.apiCreatePreauthcode(token, { componentAppId }));
  const redirectUri = `${deps.config.publicBaseUrl}${LANDING_PATH}`;
  deps.logger.info('authorization.started', { authType: request.authType, bizAppid: request.bizAppid });
  return { ...authorizationUrls({ componentAppId, preAuthCode, redirectUri, ...request }), expiresIn };
};
