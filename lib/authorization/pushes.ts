// The `component_push` handler of the `authorized` function (docs/protocol.md §1.4): authorized, updateauthorized
// and fast registration complete an authorization from their code; unauthorized revokes. A code that can no
// longer be exchanged (spent by a claimant that died after WeChat answered, or expired while the stream was
// stuck) does not cost the account owner a second authorization: the push names the account, and
// api_get_authorizer_info returns its refresh token and permissions.
import { CODE_EXCHANGE_WAIT_MS } from '../kernel/limits.ts';
import type { WeChatDeps } from '../runtime/wechat-deps.ts';
import { markUnauthorized } from '../store/authorizers.ts';
import { CODE_TTL_S } from '../store/codes.ts';
import { forgetLinkPreAuthCode, getPreAuthOrigin } from '../store/links.ts';
import type { StoredEvent } from '../store/events.ts';
import { saveAuthorizationWithoutToken } from '../store/grants.ts';
import { isRevoked } from '../wechat/errors.ts';
import { fastRegistrationEvents, grantEvents, unauthorizedEvents } from '../events/authorizer-events.ts';
import type { GrantChange } from '../store/grants.ts';
import { putEvents, type Announce } from '../store/outbox.ts';
import { AuthorizationCodeError, completeAuthorization, IncompleteAuthorizationError } from './exchange.ts';
import { PermanentEventError } from '../stream/dispatch.ts';
import { withComponentToken } from '../tokens/component-token.ts';

const codeExpiry = (value: string | undefined, createTime: number): number =>
  value && /^\d{1,12}$/.test(value) ? Number(value) : createTime + CODE_TTL_S;

/**
 * Stores the authorization a refused code stood for, from api_get_authorizer_info (refresh token, permissions,
 * info). No access token: the old one ends, and the next use refreshes with the recovered refresh token.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/api_get_authorizer_info.html
 */
export const recoverWithoutCode = async (
  deps: WeChatDeps,
  authorizerAppid: string,
  authorizedAt: number,
  refused: AuthorizationCodeError,
  options: { readonly announce?: Announce<GrantChange>; readonly tenant?: string } = {},
) => {
  const componentAppId = deps.config.componentAppId;
  const { authorizerInfo, authorizationInfo } = await withComponentToken(deps, (t) =>
    deps.wechat.apiGetAuthorizerInfo(t, { componentAppId, authorizerAppid }),
  ).catch((error: unknown) => {
    if (!isRevoked(error)) throw error;
    throw new PermanentEventError(`${authorizerAppid}: code refused (${refused.errcode}) and the account no longer authorizes this component`, {
      cause: error,
    });
  });
  const refreshToken = authorizationInfo.authorizerRefreshToken;
  if (!refreshToken) throw dropEvent(refused);
  const recovered = {
    refreshToken,
    funcInfo: [...authorizationInfo.funcInfo],
    info: authorizerInfo,
    authorizedAt,
    ...(options.tenant ? { tenant: options.tenant } : {}),
  };
  const saved = await saveAuthorizationWithoutToken(deps, authorizerAppid, recovered, options.announce ?? grantEvents(deps));
  deps.logger.warn('authorization.recovered_without_code', { authorizerAppid, errcode: refused.errcode, saved });
};

/** A refused code or an incomplete answer cannot be fixed by a retry: the stream consumer drops the event. */
const dropEvent = (cause: Error): PermanentEventError => new PermanentEventError(cause.message, { cause });

interface PushedCode {
  readonly code: string;
  readonly expiry: number;
  readonly appid: string | undefined;
  /** The PreAuthCode the owner authorized with: which signed link (and tenant) it came through, if any. */
  readonly preAuthCode?: string | undefined;
  /** The events storing the grant announces (lib/events/authorizer-events.ts). */
  readonly announce: Announce<GrantChange>;
}

const complete = async (deps: WeChatDeps, event: StoredEvent, input: PushedCode) => {
  const origin = input.preAuthCode ? await getPreAuthOrigin(deps, input.preAuthCode) : undefined;
  try {
    await completeAuthorization(deps, {
      authorizationCode: input.code,
      codeExpiresAt: input.expiry,
      authorizedAt: event.createTime,
      waitMs: CODE_EXCHANGE_WAIT_MS,
      announce: input.announce,
      ...(origin?.tenant ? { tenant: origin.tenant } : {}),
    });
    // WeChat spent the pre_auth_code: the link's next view shows a fresh one.
    if (origin && input.preAuthCode) await forgetLinkPreAuthCode(deps, origin.linkId, input.preAuthCode);
  } catch (error) {
    if (error instanceof IncompleteAuthorizationError) throw dropEvent(error);
    if (!(error instanceof AuthorizationCodeError)) throw error;
    if (error.errcode === 61003 || !input.appid) throw dropEvent(error);
    // The tenant rides on the recovered grant, so its events carry it too.
    await recoverWithoutCode(deps, input.appid, event.createTime, error, {
      announce: input.announce,
      ...(origin?.tenant ? { tenant: origin.tenant } : {}),
    });
  }
};

/** The fast registration's result as its event reports it; a success rides on the new grant's transaction. */
const fastRegistration = (deps: WeChatDeps, event: StoredEvent) => {
  const p = event.payload;
  const appid = p.status === '0' ? p.appid : undefined;
  return fastRegistrationEvents(deps, {
    pushId: event.id,
    createTime: event.createTime,
    status: Number(p.status),
    message: p.msg ?? '',
    ...(appid ? { authorizerAppid: appid } : {}),
    ...(p['info.name'] ? { name: p['info.name'] } : {}),
  });
};

/** The `component_push` handler of the `authorized` function: authorized, updateauthorized, fast-register, unauthorized. */
export const applyAuthorizationPush = async (deps: WeChatDeps, event: StoredEvent): Promise<void> => {
  const p = event.payload;
  const log = deps.logger.child({ eventId: event.id, infoType: event.infoType, authorizerAppid: event.authorizerAppid ?? p.appid });
  switch (event.infoType) {
    case 'authorized':
    case 'updateauthorized': {
      if (!p.AuthorizationCode) throw new PermanentEventError(`${event.infoType} push without AuthorizationCode`);
      const expiry = codeExpiry(p.AuthorizationCodeExpiredTime, event.createTime);
      return complete(deps, event, {
        code: p.AuthorizationCode,
        expiry,
        appid: event.authorizerAppid,
        preAuthCode: p.PreAuthCode,
        announce: grantEvents(deps),
      });
    }
    case 'notify_third_fasteregister': {
      if (p.status !== '0' || !p.auth_code) {
        log.warn('fast_register.not_completed', { status: p.status, msg: p.msg });
        // Nothing is stored for a failed registration: its event is the only change.
        return putEvents(deps, fastRegistration(deps, event));
      }
      const announce: Announce<GrantChange> = (change) => [...grantEvents(deps)(change), ...fastRegistration(deps, event)];
      return complete(deps, event, { code: p.auth_code, expiry: event.createTime + CODE_TTL_S, appid: p.appid, announce });
    }
    case 'unauthorized': {
      if (!event.authorizerAppid) throw new PermanentEventError('unauthorized push without AuthorizerAppid');
      const announce = unauthorizedEvents(deps, 'push', event.createTime * 1000);
      const result = await markUnauthorized(deps, event.authorizerAppid, event.createTime, announce);
      log.info('authorization.revoked', { result, createTime: event.createTime });
      return;
    }
    default:
      log.warn('component_push.ignored');
  }
};
