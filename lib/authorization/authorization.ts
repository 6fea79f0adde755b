// The authorization lifecycle (PROTOCOL.md §1.4, §1.8): the start page's links from a fresh pre_auth_code, and
// completing an authorization from its code (landing page or `authorized` push, whichever comes first,
// exchanging the code exactly once). The pushes themselves are handled in authorization-events.ts.
import { randomUUID } from 'node:crypto';
import { nowSeconds, sleep } from '../kernel/clock.ts';
import type { WeChatDeps } from '../runtime/wechat-deps.ts';
import { AppError, BadRequestError } from '../kernel/errors.ts';
import { saveAuthorization, saveAuthorizationWithoutRefreshToken } from '../store/grants.ts';
import { getAuthorizer, updateAuthorizerInfo } from '../store/authorizers.ts';
import {
  claimCode,
  CodeClaimLostError,
  CODE_TTL_S,
  getCodeState,
  markCodeApplied,
  releaseCode,
  saveCodeRejection,
  saveCodeResult,
  type CodeState,
} from '../store/codes.ts';
import { saveAuthorizationWithoutToken } from '../store/reauthorization.ts';
import { StaleWriteError } from '../store/tokens.ts';
import type { AuthorizationInfo, AuthorizerInfo } from '../wechat/responses.ts';
import { isRevoked, WeChatApiError } from '../wechat/errors.ts';
import { withComponentToken } from '../tokens/index.ts';
import { PermanentEventError } from '../stream/dispatch.ts';
import { isAppId } from '../wechat/ids.ts';

export const LANDING_PATH = '/wechat/component/authorized';
/** Longer than the client's worst case for one call (timeouts and retries), so a live claim is never taken over. */
export const CODE_CLAIM_MS = 30_000;
const CODE_POLL_MS = 150;
/** 61009 invalid or spent, 61010 expired, 61003 the account no longer authorizes this component. */
const CODE_REFUSED = [61009, 61010, 61003];

/** WeChat refused the authorization code for good (61009 invalid or already used, 61010 expired, 61003 revoked since). */
export class AuthorizationCodeError extends PermanentEventError {
  readonly errcode: number;
  constructor(errcode: number, options?: ErrorOptions) {
    super(`the authorization code was refused (errcode ${errcode})`, options);
    this.errcode = errcode;
  }
}

/** Someone else is exchanging this code right now and did not finish within our wait: try again shortly. */
export class CodeBusyError extends AppError {}

export type AuthType = 1 | 2 | 3;
export interface StartRequest {
  readonly authType: AuthType;
  readonly bizAppid?: string;
}
export interface LandingRequest {
  readonly authorizationCode: string;
  readonly expiresIn: number;
}
type Query = Readonly<Record<string, string | undefined>> | null | undefined;

const CODE = /^[\x21-\x7e]{1,512}$/;

/** Reads `auth_type` (1 accounts, 2 mini programs, 3 both; default 3) and optional `biz_appid`. */
export const parseStartQuery = (query: Query): StartRequest => {
  const authType = Number(query?.auth_type ?? '3');
  if (!(authType === 1 || authType === 2 || authType === 3) || !/^[123]$/.test(query?.auth_type ?? '3')) {
    throw new BadRequestError('auth_type must be 1 (official accounts), 2 (mini programs) or 3 (both)');
  }
  const bizAppid = query?.biz_appid;
  if (bizAppid !== undefined && bizAppid !== '' && !isAppId(bizAppid)) {
    throw new BadRequestError('biz_appid must be an appid: wx followed by 16 letters or digits');
  }
  return bizAppid ? { authType, bizAppid } : { authType };
};

/** Reads the `auth_code` and `expires_in` WeChat appends to redirect_uri. */
export const parseLandingQuery = (query: Query): LandingRequest => {
  const code = query?.auth_code;
  if (!code || !CODE.test(code)) throw new BadRequestError('auth_code is missing: open this page through the authorization start page');
  const raw = query?.expires_in ?? String(CODE_TTL_S);
  const expiresIn = Number(raw);
  if (!/^\d{1,6}$/.test(raw) || expiresIn < 1) throw new BadRequestError('expires_in must be a positive number of seconds');
  return { authorizationCode: code, expiresIn };
};

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

/** How long after an exchange its claimant is presumed to be storing the result (then anyone may). */
const APPLY_WINDOW_MS = 5_000;
const isApplying = (deps: WeChatDeps, state: Exchanged): boolean => state.cachedAt * 1000 + APPLY_WINDOW_MS > deps.clock();

/**
 * The api_query_auth result for a code, calling WeChat at most once per code across every caller: the
 * first claims it, the others wait (up to `waitMs`) on consistent reads for the stored result.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/authorization_info.html
 */
export const exchangeCodeOnce = async (deps: WeChatDeps, code: string, options: ExchangeOptions): Promise<Exchanged> => {
  const owner = randomUUID();
  for (let polls = Math.ceil(options.waitMs / CODE_POLL_MS); ; polls -= 1) {
    const state = await getCodeState(deps, code);
    // The claimant stores the result on the profile right after the exchange: wait for that rather than race it.
    const settled =
      state?.state === 'exchanged' && (state.appliedAt !== undefined || !options.awaitApplied || polls <= 0 || !isApplying(deps, state));
    if (settled) return state;
    if (state?.state === 'rejected') throw new AuthorizationCodeError(state.errcode);
    if (!state || (state.state === 'claimed' && state.claimUntil < deps.clock())) {
      if (options.codeExpiresAt <= nowSeconds(deps.clock)) throw new AuthorizationCodeError(61010);
      if (await claimCode(deps, code, owner, CODE_CLAIM_MS)) return exchangeAsClaimant(deps, code, owner);
      continue;
    }
    if (polls <= 0) throw new CodeBusyError('the authorization code is being exchanged by another request');
    await sleep(CODE_POLL_MS);
  }
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
}

export interface CompletedAuthorization {
  readonly authorizerAppid: string;
  readonly funcInfo: readonly number[];
  readonly info?: AuthorizerInfo;
  /** 'saved': this call stored it; 'already': an earlier caller did; 'stale': a newer (un)authorization is stored. */
  readonly outcome: 'saved' | 'already' | 'stale';
  /** The exchange's own access token, if it returned one (a secret: never render or log it). */
  readonly exchangeAccessToken?: string;
}

/**
 * The account authorized without granting API access: api_query_auth returned no refresh token. The account is
 * stored (status no_refresh_token, shown by `npm run status` and the token list) with its info; the platform
 * can do nothing for it until its owner authorizes again with the API permissions. Permanent for the stream;
 * the landing page shows it as a page of its own.
 */
export class AuthorizedWithoutRefreshTokenError extends PermanentEventError {
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
): Promise<CompletedAuthorization['outcome']> => {
  const a = exchanged.authorization;
  const withToken = a.authorizerAccessToken !== undefined && a.expiresIn !== undefined;
  const authorization = {
    refreshToken: a.authorizerRefreshToken ?? '',
    funcInfo: [...a.funcInfo],
    authorizedAt,
    ...(withToken ? { accessToken: a.authorizerAccessToken, expiresAt: exchanged.exchangedAt + (a.expiresIn ?? 0) } : {}),
  };
  // Re-authorization invalidates the old access token; without a new one nothing may keep serving it.
  const save = !a.authorizerRefreshToken
    ? saveAuthorizationWithoutRefreshToken(deps, a.authorizerAppid, authorization)
    : withToken
      ? saveAuthorization(deps, a.authorizerAppid, authorization)
      : saveAuthorizationWithoutToken(deps, a.authorizerAppid, authorization);
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
    ? applyExchange(deps, request.authorizationCode, exchanged, request.authorizedAt ?? exchanged.exchangedAt)
    : 'already';

/**
 * The account's info (api_get_authorizer_info), fetched and stored when the profile has none or this call just
 * stored a grant. An account that revoked since (61003) is answered without fresh info: there is nothing to fetch.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/api_get_authorizer_info.html
 */
export const ensureAccountInfo = async (
  deps: WeChatDeps,
  authorizerAppid: string,
  outcome: CompletedAuthorization['outcome'],
): Promise<AuthorizerInfo | undefined> => {
  const stored = (await getAuthorizer(deps, authorizerAppid))?.info;
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
  const info = await ensureAccountInfo(deps, authorizerAppid, outcome);
  deps.logger.info('authorization.completed', { authorizerAppid, outcome, permissions: [...funcInfo] });
  if (!exchanged.authorization.authorizerRefreshToken) throw new AuthorizedWithoutRefreshTokenError(authorizerAppid, info);
  const token = exchanged.authorization.authorizerAccessToken;
  return { authorizerAppid, funcInfo, ...(info ? { info } : {}), outcome, ...(token ? { exchangeAccessToken: token } : {}) };
};
