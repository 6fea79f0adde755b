// The start page's side of the authorization lifecycle (docs/protocol.md §1.8): both authorization links for a
// signed link (links.ts), from the pre_auth_code that link is serving, or a fresh one. Completing an
// authorization from its code is in exchange.ts.
import { nowSeconds } from '../kernel/clock.ts';
import type { WeChatDeps } from '../runtime/wechat-deps.ts';
import { getLinkPreAuthCode, saveLinkPreAuthCode, type ServedPreAuthCode } from '../store/links.ts';
import { withComponentToken } from '../tokens/component-token.ts';
import { signState, type AuthType, type LinkClaims } from './links.ts';

/** The landing state outlives the pre_auth_code by this much: WeChat redirects right after the owner confirms. */
export const STATE_GRACE_S = 15 * 60;

export interface AuthorizationLinks {
  readonly pcUrl: string;
  readonly mobileUrl: string;
  /** Seconds the pre_auth_code behind both links has left. */
  readonly expiresIn: number;
}

export interface LinkUrlInput {
  readonly componentAppId: string;
  readonly preAuthCode: string;
  readonly redirectUri: string;
  readonly authType: AuthType;
  readonly bizAppid?: string;
}

/**
 * Both authorization links (docs/protocol.md §1.8) for one pre_auth_code: the PC page (QR code) and the mobile
 * page opened inside WeChat, on WeChat's current host for it.
 */
export const authorizationUrls = (i: LinkUrlInput): Omit<AuthorizationLinks, 'expiresIn'> => {
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
    mobileUrl: `https://open.weixin.qq.com/wxaopen/safe/bindcomponent?${mobile}#wechat_redirect`,
  };
};

/** The pre_auth_code the link is serving, or a new one from WeChat cached for it (one WeChat call per code lifetime). */
const preAuthCodeFor = async (deps: WeChatDeps, link: LinkClaims): Promise<ServedPreAuthCode> => {
  const cached = await getLinkPreAuthCode(deps, link.linkId);
  if (cached) return cached;
  const componentAppId = deps.config.componentAppId;
  const fresh = await withComponentToken(deps, (token) => deps.wechat.apiCreatePreauthcode(token, { componentAppId }));
  const served = { preAuthCode: fresh.preAuthCode, expiresAt: nowSeconds(deps.clock) + fresh.expiresIn };
  deps.logger.info('authorization.pre_auth_code_created', { linkId: link.linkId, tenant: link.tenant });
  return saveLinkPreAuthCode(deps, { linkId: link.linkId, ...(link.tenant ? { tenant: link.tenant } : {}) }, served);
};

/**
 * The start page's links for a verified signed link. `landingUrl` is the landing page's absolute URL; its
 * redirect_uri carries a signed state naming the link (and tenant), which the landing page requires.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/pre_auth_code.html
 */
export const startAuthorization = async (deps: WeChatDeps, link: LinkClaims, landingUrl: string): Promise<AuthorizationLinks> => {
  const code = await preAuthCodeFor(deps, link);
  const state = signState(deps.secrets.linkSigningKey, {
    linkId: link.linkId,
    ...(link.tenant ? { tenant: link.tenant } : {}),
    expiresAt: code.expiresAt + STATE_GRACE_S,
  });
  const redirectUri = `${landingUrl}?state=${state}`;
  const { componentAppId } = deps.config;
  deps.logger.info('authorization.started', { linkId: link.linkId, tenant: link.tenant, authType: link.authType, bizAppid: link.bizAppid });
  const urls = authorizationUrls({
    componentAppId,
    preAuthCode: code.preAuthCode,
    redirectUri,
    authType: link.authType,
    ...(link.bizAppid ? { bizAppid: link.bizAppid } : {}),
  });
  return { ...urls, expiresIn: code.expiresAt - nowSeconds(deps.clock) };
};
