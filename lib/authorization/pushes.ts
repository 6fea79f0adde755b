// The `component_push` handler of the `authorized` function (PROTOCOL.md §1.4): authorized, updateauthorized
// and fast registration complete an authorization from their code; unauthorized revokes. A code that can no
// longer be exchanged (spent by a claimant that died after WeChat answered, or expired while the stream was
// stuck) does not cost the account owner a second authorization: the push names the account, and
// api_get_authorizer_info returns its refresh token and permissions.
import type { WeChatDeps } from '../runtime/wechat-deps.ts';
import { markUnauthorized } from '../store/authorizers.ts';
import { CODE_TTL_S } from '../store/codes.ts';
import type { StoredEvent } from '../store/events.ts';
import { saveAuthorizationWithoutToken } from '../store/reauthorization.ts';
import { isRevoked } from '../wechat/errors.ts';
import { AuthorizationCodeError, AuthorizedWithoutRefreshTokenError, completeAuthorization } from './authorization.ts';
import { saveAuthorizationWithoutRefreshToken } from '../store/grants.ts';
import { PermanentEventError } from '../stream/dispatch.ts';
import { withComponentToken } from '../tokens/index.ts';

/** How long the push consumer waits for a code another request is exchanging (the function's timeout is 60 s). */
const PUSH_WAIT_MS = 20_000;

const codeExpiry = (value: string | undefined, createTime: number): number =>
  value && /^\d{1,12}$/.test(value) ? Number(value) : createTime + CODE_TTL_S;

/**
 * Stores the authorization a refused code stood for, from api_get_authorizer_info (refresh token, permissions,
 * info). No access token: the old one ends, and the next use refreshes with the recovered refresh token.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/api_get_authorizer_info.html
 */
export const recoverWithoutCode = async (deps: WeChatDeps, authorizerAppid: string, authorizedAt: number, refused: AuthorizationCodeError) => {
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
  const granted = { funcInfo: [...authorizationInfo.funcInfo], info: authorizerInfo, authorizedAt };
  const saved = refreshToken
    ? await saveAuthorizationWithoutToken(deps, authorizerAppid, { ...granted, refreshToken })
    : await saveAuthorizationWithoutRefreshToken(deps, authorizerAppid, granted);
  deps.logger.warn('authorization.recovered_without_code', {
    authorizerAppid,
    errcode: refused.errcode,
    saved,
    withRefreshToken: Boolean(refreshToken),
  });
};

const complete = async (deps: WeChatDeps, event: StoredEvent, input: { code: string; expiry: number; appid: string | undefined }) => {
  try {
    await completeAuthorization(deps, {
      authorizationCode: input.code,
      codeExpiresAt: input.expiry,
      authorizedAt: event.createTime,
      waitMs: PUSH_WAIT_MS,
    });
  } catch (error) {
    if (error instanceof AuthorizedWithoutRefreshTokenError) {
      // Stored, as far as it can be: nothing to retry until the owner grants API access.
      deps.logger.warn('authorization.no_refresh_token', { authorizerAppid: error.authorizerAppid, eventId: event.id });
      return;
    }
    if (!(error instanceof AuthorizationCodeError) || error.errcode === 61003 || !input.appid) throw error;
    await recoverWithoutCode(deps, input.appid, event.createTime, error);
  }
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
      return complete(deps, event, { code: p.AuthorizationCode, expiry, appid: event.authorizerAppid });
    }
    case 'notify_third_fasteregister': {
      if (p.status !== '0' || !p.auth_code) {
        log.warn('fast_register.not_completed', { status: p.status, msg: p.msg });
        return;
      }
      return complete(deps, event, { code: p.auth_code, expiry: event.createTime + CODE_TTL_S, appid: p.appid });
    }
    case 'unauthorized': {
      if (!event.authorizerAppid) throw new PermanentEventError('unauthorized push without AuthorizerAppid');
      const result = await markUnauthorized(deps, event.authorizerAppid, event.createTime);
      log.info('authorization.revoked', { result, createTime: event.createTime });
      return;
    }
    default:
      log.warn('component_push.ignored');
  }
};
