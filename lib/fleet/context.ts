// What every rollout step shares (docs/fleet.md): the deps, the headers of the rollouts in this invocation (read
// once each: the fields a step needs never change after planning, only halted/releaseRequested, which the next
// invocation sees), the timing constants, and how an error becomes a stored StepError and a retry decision.
import { randomUUID } from 'node:crypto';
import { nowSeconds } from '../kernel/clock.ts';
import { ROLLOUT_CLAIM_MS } from '../kernel/limits.ts';
import type { WeChatDeps } from '../runtime/wechat-deps.ts';
import type { RolloutHeader, StepError } from '../store/rollout-types.ts';
import { getRolloutHeader } from '../store/rollouts.ts';
import { AuthorizerNotFoundError, AuthorizerUnauthorizedError, NeedsReauthError, TokenServiceError } from '../tokens/errors.ts';
import { getAuthorizerAccessToken, withAuthorizerToken } from '../tokens/authorizer-token.ts';
import { codeCallPolicy, isTokenInvalid, WeChatApiError, type CodeCallPolicy } from '../wechat/errors.ts';

/** How long a step may hold a claim (lib/kernel/limits.ts: it covers a token fetch and one WeChat call with retries). */
export const CLAIM_S = ROLLOUT_CLAIM_MS / 1000;
/** Failed tries of one step before the account is marked failed. */
export const ROLLOUT_STEP_MAX_ATTEMPTS = 8;
/** Backoff between tries: BACKOFF_BASE_S doubling per attempt, capped. Sweeps (every minute) wake accounts when due. */
export const BACKOFF_BASE_S = 30;
export const BACKOFF_MAX_S = 3600;
/** How often an account waits for the quota to come back before it is looked at again. */
export const QUOTA_RECHECK_S = 600;
/** An audit whose result never arrived is polled (get_auditstatus) this long after submission, and as often again. */
export const AUDIT_POLL_S = 6 * 3600;
/** Clock difference allowed between WeChat's times (exp_time, submit_audit_time) and ours, for recovery checks. */
export const WECHAT_CLOCK_SKEW_S = 300;

export type FleetDeps = WeChatDeps;

export interface StepContext {
  readonly deps: FleetDeps;
  header(rolloutId: string): Promise<RolloutHeader | undefined>;
  now(): number;
  newClaimId(): string;
}

/** A context for one invocation: headers cached per rollout id for its duration only. */
export const createStepContext = (deps: FleetDeps): StepContext => {
  const headers = new Map<string, Promise<RolloutHeader | undefined>>();
  return {
    deps,
    header: (id) => {
      const cached = headers.get(id);
      if (cached) return cached;
      const header = getRolloutHeader(deps, id);
      headers.set(id, header);
      return header;
    },
    now: () => nowSeconds(deps.clock),
    newClaimId: () => randomUUID(),
  };
};

export const backoffS = (attempts: number, atLeastS = 0): number =>
  Math.max(atLeastS, Math.min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** Math.max(0, attempts - 1)));

/**
 * Calls WeChat for one mini program with its token, reading the token once per step chain; a token WeChat
 * rejects (40001) is expired and replaced once (lib/tokens).
 */
export const accountCaller = (deps: FleetDeps, appid: string) => {
  let token: Promise<string> | undefined;
  return async <T>(fn: (authorizerAccessToken: string) => Promise<T>): Promise<T> => {
    token ??= getAuthorizerAccessToken(deps, appid).then((t) => t.accessToken);
    try {
      return await fn(await token);
    } catch (error) {
      if (!isTokenInvalid(error)) throw error;
      token = undefined;
      return withAuthorizerToken(deps, appid, fn);
    }
  };
};
export type AccountCaller = ReturnType<typeof accountCaller>;

/** The retry decision for any error a step meets: WeChat's codes (lib/wechat/errors.ts) and the token service's. */
export const stepPolicy = (error: unknown): CodeCallPolicy => {
  if (error instanceof AuthorizerNotFoundError || error instanceof AuthorizerUnauthorizedError || error instanceof NeedsReauthError) {
    return { kind: 'permanent' };
  }
  if (error instanceof TokenServiceError) return { kind: 'retry', afterS: 60 };
  return codeCallPolicy(error);
};

/** What is stored about a failure: WeChat's api, errcode and errmsg, or the error's message; never a token. */
export const stepError = (error: unknown, at: number): StepError => {
  if (error instanceof WeChatApiError) return { api: error.api, errcode: error.errcode, message: error.errmsg, at };
  const api = (error as { api?: unknown } | undefined)?.api;
  return { ...(typeof api === 'string' ? { api } : {}), message: error instanceof Error ? `${error.name}: ${error.message}` : String(error), at };
};
