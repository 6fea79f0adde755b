// The component_access_token: one per component appid, shared by every caller through the table, refreshed
// with the newest stored component_verify_ticket under a lease so only one caller ever asks WeChat for it.
// lib/tokens is the one way code in this project gets a WeChat access token: tokens live in the table, never
// in memory; each is obtained from WeChat at most once per lifetime across all Lambdas (single-flight.ts), and
// a token WeChat rejects is expired only if it is still the stored one.
import { nowSeconds } from '../kernel/clock.ts';
import { COMPONENT_LEASE_MS, FOLLOWER_MAX_WAIT_MS, TOKEN_POLL } from '../kernel/limits.ts';
import type { WeChatDeps } from '../runtime/wechat-deps.ts';
import { getVerifyTicket } from '../store/tickets.ts';
import {
  expireComponentToken,
  getComponentToken,
  getComponentTokenWithLease,
  putComponentToken,
  StaleWriteError,
  type AccessToken,
} from '../store/tokens.ts';
import { isTicketInvalid, isTokenInvalid } from '../wechat/errors.ts';
import { refreshIfDue, singleFlight, type DueOutcome, type FlightOptions } from './single-flight.ts';
import { MissingTicketError, TicketInvalidError } from './errors.ts';

/** A cached token is handed out only with more than this left (WeChat keeps an old one ~5 min after a refresh). */
export const TOKEN_MARGIN_S = 300;

/** Lease and wait of the component token (lib/kernel/limits.ts): 18.6 s to hold, 12 s to wait for another holder. */
export const COMPONENT_FLIGHT: FlightOptions = { leaseMs: COMPONENT_LEASE_MS, maxWaitMs: FOLLOWER_MAX_WAIT_MS, ...TOKEN_POLL };

export const componentLease = (componentAppId: string): string => `component-token#${componentAppId}`;

/**
 * The token if it has more than TOKEN_MARGIN_S left at the deps clock, or (for a caller that waited on a
 * refresh) if it was written at or after `since` (epoch s), whatever its lifetime.
 */
export const usable = (token: AccessToken | undefined, now: number, since?: number): AccessToken | undefined =>
  token && (token.expiresAt - now > TOKEN_MARGIN_S || (since !== undefined && token.obtainedAt >= since)) ? token : undefined;

const readUsable = async (deps: WeChatDeps, since?: number): Promise<AccessToken | undefined> =>
  usable(await getComponentToken(deps, deps.config.componentAppId, { consistent: true }), nowSeconds(deps.clock), since);

/** Asks WeChat for a new component token with the newest stored ticket and stores it. Lease holders only. */
const fetchComponentToken = async (deps: WeChatDeps): Promise<AccessToken> => {
  const componentAppId = deps.config.componentAppId;
  const ticket = await getVerifyTicket(deps, componentAppId);
  if (!ticket) {
    throw new MissingTicketError(
      `no live component_verify_ticket is stored for ${componentAppId}: wait for WeChat's next push (every 10 minutes) ` +
        'to the authorization event URL, or call api_start_push_ticket to ask WeChat to push one now',
    );
  }
  const obtainedAt = nowSeconds(deps.clock);
  let answer: Awaited<ReturnType<typeof deps.wechat.apiComponentToken>>;
  try {
    answer = await deps.wechat.apiComponentToken({
      componentAppId,
      componentAppSecret: deps.secrets.appSecret,
      componentVerifyTicket: ticket.ticket,
    });
  } catch (error) {
    if (!isTicketInvalid(error)) throw error;
    throw new TicketInvalidError(
      `WeChat rejected the stored component_verify_ticket of ${componentAppId} (created ${new Date(ticket.createTime * 1000).toISOString()}): ` +
        'wait for the next push or call api_start_push_ticket; check that the push URL decrypts with the right key',
      { cause: error },
    );
  }
  // expiresAt counts from before the call, so the stored lifetime never exceeds WeChat's.
  const token = { accessToken: answer.componentAccessToken, expiresAt: obtainedAt + answer.expiresIn };
  try {
    await putComponentToken(deps, componentAppId, token);
  } catch (error) {
    if (!(error instanceof StaleWriteError)) throw error;
    const newer = await getComponentToken(deps, componentAppId, { consistent: true });
    if (newer) return newer;
    throw error;
  }
  deps.logger.info('component_token.refreshed', { componentAppId, expiresAt: token.expiresAt });
  return { ...token, obtainedAt };
};

/**
 * A component access token with more than TOKEN_MARGIN_S left, from the table or, at most once across all
 * concurrent callers, from WeChat.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/component_access_token.html
 */
export const getComponentAccessToken = async (deps: WeChatDeps, options: FlightOptions = COMPONENT_FLIGHT): Promise<AccessToken> => {
  const cached = await readUsable(deps);
  if (cached) return cached;
  const what = componentLease(deps.config.componentAppId);
  const observe = async (since: number) => {
    const { token, lease } = await getComponentTokenWithLease(deps, deps.config.componentAppId, what);
    return { value: usable(token, nowSeconds(deps.clock), since), ...(lease ? { lease } : {}) };
  };
  return singleFlight(deps, { what, read: (since) => readUsable(deps, since), observe, refresh: () => fetchComponentToken(deps) }, options);
};

/**
 * Runs `fn` with the component token. If WeChat says that token is invalid (40001/40014/42001: another
 * party refreshed it), expires exactly that token, never a newer one, and retries once with a fresh token.
 */
export const withComponentToken = async <T>(
  deps: WeChatDeps,
  fn: (componentAccessToken: string) => Promise<T>,
  source?: ComponentTokenSource,
): Promise<T> => {
  const get = () => (source ? source.token() : getComponentAccessToken(deps));
  const token = await get();
  try {
    return await fn(token.accessToken);
  } catch (error) {
    if (!isTokenInvalid(error)) throw error;
    source?.forget(token);
    const expired = await expireComponentToken(deps, deps.config.componentAppId, token.accessToken);
    deps.logger.warn('component_token.rejected', { componentAppId: deps.config.componentAppId, expired }, error);
    return fn((await get()).accessToken);
  }
};

/** For the scheduled refresh: refreshes the component token if it expires before `dueBefore` (epoch s). */
export const refreshComponentTokenIfDue = async (deps: WeChatDeps, options: { dueBefore: number }): Promise<DueOutcome> => {
  const isFresh = async () => ((await getComponentToken(deps, deps.config.componentAppId, { consistent: true }))?.expiresAt ?? 0) > options.dueBefore;
  // Checked before the lease too: most runs find the token fresh and need not write a lease for it.
  if (await isFresh()) return 'fresh';
  return refreshIfDue(deps, componentLease(deps.config.componentAppId), COMPONENT_FLIGHT.leaseMs, async (): Promise<DueOutcome> => {
    if (await isFresh()) return 'fresh';
    await fetchComponentToken(deps);
    return 'refreshed';
  });
};

/**
 * The component token as one scheduled refresh run holds it: read from the table (or refreshed, single flight)
 * on first use and handed out again while it stays usable, so a run refreshing thousands of accounts does not
 * read the same item before each of their calls. The table stays the truth: a token WeChat rejects is forgotten
 * here and expired there by withComponentToken, and the next use reads the table again. It lives for one run.
 */
export interface ComponentTokenSource {
  token(): Promise<AccessToken>;
  forget(token: AccessToken): void;
}

export const runComponentToken = (deps: WeChatDeps): ComponentTokenSource => {
  let held: AccessToken | undefined;
  let pending: Promise<AccessToken> | undefined;
  return {
    async token() {
      if (held && usable(held, nowSeconds(deps.clock))) return held;
      pending ??= getComponentAccessToken(deps).finally(() => {
        pending = undefined;
      });
      held = await pending;
      return held;
    },
    forget(token) {
      if (held?.accessToken === token.accessToken) held = undefined;
    },
  };
};
