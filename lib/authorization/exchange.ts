// Completing an authorization from its code (docs/protocol.md §1.4): landing page or `authorized` push, whichever
// comes first, exchanging the code exactly once. The pushes themselves are handled in pushes.ts.
import { randomUUID } from 'node:crypto';
import { nowSeconds } from '../kernel/clock.ts';
import { CODE_APPLY_WINDOW_MS, CODE_CLAIM_MS, CODE_POLL } from '../kernel/limits.ts';
import { waitFor } from '../kernel/wait.ts';
import type { WeChatDeps } from '../runtime/wechat-deps.ts';
import { saveAuthorization, saveAuthorizationWithoutRefreshToken, saveAuthorizationWithoutToken, type GrantChange } from '../store/grants.ts';
import type { Announce } from '../store/outbox.ts';
import { grantEvents } from '../events/authorizer-events.ts';
import { getAuthorizer, setAuthorizerTenant, updateAuthorizerInfo, type AuthorizerProfile } from '../store/authorizers.ts';
import { hasRunOut } from '../store/claims.ts';
import {
  claimCode,
  CodeClaimLostError,
  getCodeState,
  markCodeApplied,
  releaseCode,
  saveCodeRejection,
  saveCodeResult,
  type CodeState,
} from '../store/codes.ts';
import { StaleWriteError } from '../store/tokens.ts';
import type { AuthorizationInfo, AuthorizerInfo } from '../wechat/responses.ts';
import { isRevoked, WeChatApiError } from '../wechat/errors.ts';
import { withComponentToken } from '../tokens/component-token.ts';
import { AppError } from '../kernel/errors.ts';
/** 61009 invalid or spent, 61010 expired, 61003 the account no longer authorizes this component. */
const CODE_REFUSED = [61009, 61010, 61003];

/**
 * WeChat refused the authorization code for good (61009 invalid or already used, 61010 expired, 61003 revoked since).
 * Each edge decides what that means: a page explains it, a stream consumer drops the event (pushes.ts).
 */
export class AuthorizationCodeError extends AppError {
  readonly errcode: number;
  constructor(errcode: number, options?: ErrorOptions) {
    super(`the authorization code was refused (errcode ${errcode})`, options);
    this.errcode = errcode;
  }
}

/** WeChat exchanged the code but its answer lacks what an authorization needs (a refresh token): no grant to use. */
export class IncompleteAuthorizationError extends AppError {}

/** Someone else is exchanging this code right now and did not finish within our wait: try again shortly. */
export class CodeBusyError extends AppError {}

type Exchanged = Extract<CodeState, { state: 'exchanged' }>;

const exchangeAsClaimant = async (deps: WeChatDeps, code: string, owner: string): Promise<Exchanged> => {
  let authorization: AuthorizationInfo;
  // Before the call: expires_in counts from WeChat's answer, so a token's expiry must never be placed later.
  const exchangedAt = nowSeconds(deps.clock);
  try {
    const componentAppId = deps.config.componentAppId;
    authorization = await withComponentToken(deps, (token) => deps.wechat.apiQueryAuth(token, { componentAppId, authorizationCode: code }));
  } catch (error) {
    if (error instanceof WeChatApiError && CODE_REFUSED.includes(error.errcode)) {
      await saveCodeRejection(deps, code, owner, { errcode: error.errcode, errmsg: error.errmsg }).catch((lost: unknown) => {
        if (!(lost instanceof CodeClaimLostError)) throw lost;
      });
      throw new AuthorizationCodeError(error.errcode, { cause: error });
    }
    await releaseCode(deps, code, owner);
    throw error;
  }
  deps.logger.info('authorization.code_exchanged', { authorizerAppid: authorization.authorizerAppid });
  try {
    await saveCodeResult(deps, code, owner, authorization, exchangedAt);
  } catch (error) {
    // The code is spent either way (single-use): whether our claim ran out while WeChat answered or the cache write
    // failed (throttling), the result we hold is the only copy of the refresh token, so the caller stores it now.
    const event = error instanceof CodeClaimLostError ? 'authorization.code_claim_lost' : 'authorization.code_result_not_cached';
    deps.logger.warn(event, { authorizerAppid: authorization.authorizerAppid }, error);
  }
  return { state: 'exchanged', authorization, exchangedAt, cachedAt: nowSeconds(deps.clock) };
};

export interface ExchangeOptions {
  /** Epoch seconds; a code past it is refused without calling WeChat. */
  readonly codeExpiresAt: number;
  /** How long to wait for another caller's exchange (and, with awaitApplied, for it to store the result). */
  readonly waitMs: number;
  /** For callers that store the result themselves: let a fresh claimant store it first instead of racing it. */
  readonly awaitApplied?: boolean;
}

/** Whether the exchange's claimant is presumably storing the result right now (then nobody else should). */
const isApplying = (deps: WeChatDeps, state: Exchanged): boolean => state.cachedAt * 1000 + CODE_APPLY_WINDOW_MS > deps.clock();

/**
 * The api_query_auth result for a code, calling WeChat at most once per code across every caller: the
 * first claims it, the others wait (up to `waitMs`) on consistent reads for the stored result.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/authorization_info.html
 */
export const exchangeCodeOnce = async (deps: WeChatDeps, code: string, options: ExchangeOptions): Promise<Exchanged> => {
  const owner = randomUUID();
  const attempt = async (last: boolean): Promise<Exchanged | undefined> => {
    const state = await getCodeState(deps, code);
    // The claimant stores the result on the profile right after the exchange: wait for that rather than race it.
    const settled = state?.state === 'exchanged' && (state.appliedAt !== undefined || !options.awaitApplied || last || !isApplying(deps, state));
    if (settled) return state;
    if (state?.state === 'rejected') throw new AuthorizationCodeError(state.errcode);
    if (state && !(state.state === 'claimed' && hasRunOut(state.claimUntil, deps.clock()))) return undefined;
    if (options.codeExpiresAt <= nowSeconds(deps.clock)) throw new AuthorizationCodeError(61010);
    return (await claimCode(deps, code, owner, CODE_CLAIM_MS)) ? exchangeAsClaimant(deps, code, owner) : undefined;
  };
  const exchanged = (await attempt(options.waitMs <= 0)) ?? (await waitFor({ ...CODE_POLL, maxWaitMs: options.waitMs }, attempt));
  if (exchanged) return exchanged;
  throw new CodeBusyError('the authorization code is being exchanged by another request');
};

export interface CompleteRequest {
  readonly authorizationCode: string;
  /** Epoch seconds. */
  readonly codeExpiresAt: number;
  /**
   * Epoch seconds: the push's CreateTime. Omitted by the landing page: the exchange's own time is used, so
   * reloading an old landing URL can never make its code look newer than a later authorization.
   */
  readonly authorizedAt?: number;
  readonly waitMs: number;
  /** The operator's customer, when the authorization came through a signed link naming one: stored on the profile. */
  readonly tenant?: string;
  /** The events storing it announces (default: the grant events, lib/events/authorizer-events.ts). */
  readonly announce?: Announce<GrantChange>;
}

export interface CompletedAuthorization {
  readonly authorizerAppid: string;
  readonly funcInfo: readonly number[];
  readonly info?: AuthorizerInfo;
  /** 'saved': this call stored it; 'already': an earlier caller did; 'stale': a newer (un)authorization is stored. */
  readonly outcome: 'saved' | 'already' | 'stale';
}

/**
 * The account authorized without granting API access: api_query_auth returned no refresh token. The account is
 * stored (status no_refresh_token, shown by `npm run status` and the token list) with its info; the platform
 * can do nothing for it until its owner authorizes again with the API permissions. Permanent for the stream
 * (nothing to retry); the landing page shows it as a page of its own.
 */
export class AuthorizedWithoutRefreshTokenError extends IncompleteAuthorizationError {
  readonly authorizerAppid: string;
  readonly info?: AuthorizerInfo;
  constructor(authorizerAppid: string, info?: AuthorizerInfo) {
    super(`${authorizerAppid} authorized without API access: WeChat returned no refresh token (stored as no_refresh_token)`);
    this.authorizerAppid = authorizerAppid;
    if (info) this.info = info;
  }
}

/** Stores the exchange's tokens on the profile once; a result without an access token ends the old one. */
const applyExchange = async (
  deps: WeChatDeps,
  code: string,
  exchanged: Exchanged,
  authorizedAt: number,
  tenant: string | undefined,
  announce: Announce<GrantChange>,
): Promise<CompletedAuthorization['outcome']> => {
  const a = exchanged.authorization;
  const withToken = a.authorizerAccessToken !== undefined && a.expiresIn !== undefined;
  const authorization = {
    refreshToken: a.authorizerRefreshToken ?? '',
    funcInfo: [...a.funcInfo],
    authorizedAt,
    ...(tenant ? { tenant } : {}),
    ...(withToken ? { accessToken: a.authorizerAccessToken, expiresAt: exchanged.exchangedAt + (a.expiresIn ?? 0) } : {}),
  };
  // Re-authorization invalidates the old access token; without a new one nothing may keep serving it.
  const save = !a.authorizerRefreshToken
    ? saveAuthorizationWithoutRefreshToken(deps, a.authorizerAppid, authorization, announce)
    : withToken
      ? saveAuthorization(deps, a.authorizerAppid, authorization, announce)
      : saveAuthorizationWithoutToken(deps, a.authorizerAppid, authorization, announce);
  const saved = await save.catch(async (error: unknown) => {
    // Lost every attempt to concurrent profile writes: fine if one of them stored this very code's result.
    const state = error instanceof StaleWriteError ? await getCodeState(deps, code) : undefined;
    if (state?.state === 'exchanged' && state.appliedAt !== undefined) return 'already' as const;
    throw error;
  });
  if (saved === 'already') return saved;
  await markCodeApplied(deps, code);
  return saved;
};

/** The code's api_query_auth result, exchanged at most once across every caller, and the account appid it names. */
export const exchangeForCompletion = async (deps: WeChatDeps, request: CompleteRequest) =>
  exchangeCodeOnce(deps, request.authorizationCode, { ...request, awaitApplied: true });

/** Stores an exchanged authorization on the profile unless an earlier caller did. */
export const storeExchanged = async (deps: WeChatDeps, request: CompleteRequest, exchanged: Exchanged): Promise<CompletedAuthorization['outcome']> =>
  exchanged.appliedAt === undefined
    ? applyExchange(
        deps,
        request.authorizationCode,
        exchanged,
        request.authorizedAt ?? exchanged.exchangedAt,
        request.tenant,
        request.announce ?? grantEvents(deps),
      )
    : 'already';

/**
 * The account's info (api_get_authorizer_info), fetched and stored when the profile has none or this call just
 * stored a grant. An account that revoked since (61003) is answered without fresh info: there is nothing to fetch.
 * `read` is the profile the caller has just read, if it has (otherwise it is read here).
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/api_get_authorizer_info.html
 */
export const ensureAccountInfo = async (
  deps: WeChatDeps,
  authorizerAppid: string,
  outcome: CompletedAuthorization['outcome'],
  read?: { readonly profile: AuthorizerProfile | undefined },
): Promise<AuthorizerInfo | undefined> => {
  const stored = (read ? read.profile : await getAuthorizer(deps, authorizerAppid))?.info;
  if (stored && outcome !== 'saved') return stored;
  const componentAppId = deps.config.componentAppId;
  try {
    const fetched = await withComponentToken(deps, (t) => deps.wechat.apiGetAuthorizerInfo(t, { componentAppId, authorizerAppid }));
    await updateAuthorizerInfo(deps, authorizerAppid, fetched.authorizerInfo);
    return fetched.authorizerInfo;
  } catch (error) {
    if (!isRevoked(error)) throw error;
    deps.logger.warn('authorization.info_account_left', { authorizerAppid }, error);
    return stored;
  }
};

/** Completes an authorization from its code: exchange once, store profile and tokens once, fetch the account's info. */
export const completeAuthorization = async (deps: WeChatDeps, request: CompleteRequest): Promise<CompletedAuthorization> => {
  const exchanged = await exchangeForCompletion(deps, request);
  const { authorizerAppid, funcInfo } = exchanged.authorization;
  const outcome = await storeExchanged(deps, request, exchanged);
  // One read serves both: another caller may have stored the grant first (without knowing the link), and the
  // tenant must still land on the profile; and the account's info may already be there.
  const profile = await getAuthorizer(deps, authorizerAppid);
  if (request.tenant && outcome !== 'stale' && profile && profile.tenant !== request.tenant) {
    await setAuthorizerTenant(deps, authorizerAppid, request.tenant);
  }
  const info = await ensureAccountInfo(deps, authorizerAppid, outcome, { profile });
  deps.logger.info('authorization.completed', { authorizerAppid, outcome, tenant: request.tenant, permissions: [...funcInfo] });
  if (!exchanged.authorization.authorizerRefreshToken) throw new AuthorizedWithoutRefreshTokenError(authorizerAppid, info);
  return { authorizerAppid, funcInfo, ...(info ? { info } : {}), outcome };
};
