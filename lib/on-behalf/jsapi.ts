// JS-SDK tickets and wx.config signatures for authorized official accounts (docs/on-behalf.md). A ticket lives
// in the table like an access token and is fetched from WeChat at most once per lifetime across every Lambda,
// through the same single flight (lib/tokens/single-flight.ts): getticket costs the account's daily quota
// (about 10,000 calls), so a ticket per page view would stop the account's JS-SDK within a day.
import { nowSeconds } from '../kernel/clock.ts';
import { createMetrics, type Metrics } from '../kernel/metrics.ts';
import type { WeChatDeps } from '../runtime/wechat-deps.ts';
import { getJsapiTicketState, putJsapiTicket, type JsapiTicket, type JsapiTicketState } from '../store/jsapi-tickets.ts';
import { StaleWriteError } from '../store/tokens.ts';
import { activeProfile } from '../tokens/authorizer-token.ts';
import { FOLLOWER_MAX_WAIT_MS, STORE_SLACK_MS, WECHAT_CALL_BUDGET_MS } from '../kernel/limits.ts';
import { withAuthorizerToken } from '../tokens/authorizer-token.ts';
import { singleFlight, type FlightOptions, type Renew } from '../tokens/single-flight.ts';
import { isRateLimited, WeChatApiError } from '../wechat/errors.ts';
import { QuotaExceededError } from './errors.ts';
import { jsapiNonce, jsapiSignature, pageUrl } from './signature.ts';

export type OnBehalfDeps = WeChatDeps & { readonly metrics?: Metrics };

/** A stored ticket is handed out only with more than this left: a page signs with it right away. */
export const JSAPI_TICKET_MARGIN_S = 300;

/**
 * Lease: one step of a holder is getting the account token (a cached read, or at worst a follower's wait on
 * that token's own single flight, 12 s), one getticket call and one write: 30.6 s. The holder renews the
 * lease before every getticket (the retry after 40001 included), so a holder whose lease passed to another
 * caller stops instead of calling twice. A caller's worst case, a follower's wait and one step (42.6 s), fits
 * the `token` function's timeout (serverless.yml).
 */
export const JSAPI_FLIGHT: FlightOptions = {
  leaseMs: FOLLOWER_MAX_WAIT_MS + WECHAT_CALL_BUDGET_MS + STORE_SLACK_MS,
  maxWaitMs: FOLLOWER_MAX_WAIT_MS,
  pollMinMs: 150,
  pollMaxMs: 1000,
};

export const jsapiTicketLease = (authorizerAppid: string): string => `jsapi-ticket#${authorizerAppid}`;

/** The token function's two JS-SDK requests (functions/token/request.ts). */
export type JsapiRequest =
  | { readonly kind: 'jsapiTicket'; readonly authorizerAppid: string }
  | { readonly kind: 'jsapiSignature'; readonly authorizerAppid: string; readonly url: string };

export interface JsapiConfig {
  /** The official account's appid, never the component's: what wx.config takes as appId. */
  readonly appId: string;
  readonly timestamp: number;
  readonly nonceStr: string;
  readonly signature: string;
}

/** The ticket if it has more than the margin left, or (for a caller that waited on a refresh) was written at or after `since`. */
const usable = (ticket: JsapiTicket | undefined, now: number, since?: number): JsapiTicket | undefined =>
  ticket && (ticket.expiresAt - now > JSAPI_TICKET_MARGIN_S || (since !== undefined && ticket.obtainedAt >= since)) ? ticket : undefined;

/** The ticket of an account that still authorizes the component; typed errors for unknown and revoked accounts. */
const usableFor = (appid: string, state: JsapiTicketState, now: number, since?: number): JsapiTicket | undefined => {
  activeProfile(appid, state.profile);
  return usable(state.ticket, now, since);
};

const metricsOf = (deps: OnBehalfDeps): Metrics => deps.metrics ?? createMetrics({ clock: deps.clock });

/** One getticket with the account's token (expired and replaced once on 40001), stored. Lease holders only. */
const fetchTicket = async (deps: OnBehalfDeps, appid: string, renew: Renew): Promise<JsapiTicket> => {
  const obtainedAt = nowSeconds(deps.clock);
  let answer: Awaited<ReturnType<typeof deps.wechat.getJsapiTicket>>;
  try {
    answer = await withAuthorizerToken(deps, appid, async (token) => {
      await renew();
      return deps.wechat.getJsapiTicket(token);
    });
  } catch (error) {
    if (error instanceof WeChatApiError) {
      // Counted once per refused call (here, in the lease holder), not once per waiting caller.
      metricsOf(deps).put({ JsapiTicketFailed: 1 }, { Errcode: String(error.errcode) }, { rollup: true });
      deps.logger.error('jsapi_ticket.refused', { authorizerAppid: appid, errcode: error.errcode }, error);
    }
    throw error;
  }
  try {
    // expiresAt counts from before the call, so the stored lifetime never exceeds WeChat's.
    const ticket = await putJsapiTicket(deps, appid, { ticket: answer.ticket, expiresAt: obtainedAt + answer.expiresIn });
    deps.logger.info('jsapi_ticket.refreshed', { authorizerAppid: appid, expiresAt: ticket.expiresAt });
    return ticket;
  } catch (error) {
    if (!(error instanceof StaleWriteError)) throw error;
    const newer = (await getJsapiTicketState(deps, appid)).ticket;
    if (newer) return newer;
    throw error;
  }
};

/** 45009 becomes a typed answer that says what to do; everything else is passed on as it is. */
const explained = (appid: string, error: unknown): unknown => {
  if (!isRateLimited(error) || !(error instanceof WeChatApiError)) return error;
  return new QuotaExceededError(
    `getticket for ${appid} answered ${error.errcode} (${error.errcode === 45009 ? 'daily' : 'per-minute'} quota used up). Tickets are ` +
      'cached for their 2 h lifetime here, so look for another caller of getticket for this account; the quota resets daily, ' +
      'or clear it (clear_quota, 10 times a month)',
    { cause: error, errcode: error.errcode },
  );
};

/**
 * The account's jsapi_ticket with more than JSAPI_TICKET_MARGIN_S left, from the table or, at most once across
 * all concurrent callers, from WeChat (getticket with the authorizer token).
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/Official_Accounts/js_sdk_instructions.html
 */
export const getJsapiTicket = async (deps: OnBehalfDeps, authorizerAppid: string, options: FlightOptions = JSAPI_FLIGHT): Promise<JsapiTicket> => {
  const cached = usableFor(authorizerAppid, await getJsapiTicketState(deps, authorizerAppid), nowSeconds(deps.clock));
  if (cached) return cached;
  const what = jsapiTicketLease(authorizerAppid);
  try {
    return await singleFlight(
      deps,
      {
        what,
        read: async (since) => usableFor(authorizerAppid, await getJsapiTicketState(deps, authorizerAppid), nowSeconds(deps.clock), since),
        observe: async (since) => {
          const state = await getJsapiTicketState(deps, authorizerAppid, { leaseName: what });
          const value = usableFor(authorizerAppid, state, nowSeconds(deps.clock), since);
          return { ...(value ? { value } : {}), ...(state.lease ? { lease: state.lease } : {}) };
        },
        refresh: (renew) => fetchTicket(deps, authorizerAppid, renew),
      },
      options,
    );
  } catch (error) {
    throw explained(authorizerAppid, error);
  }
};

/**
 * What the page passes to wx.config: signed with the account's ticket over `url` without its fragment, with
 * a fresh nonceStr and the current time.
 */
export const createJsapiConfig = async (deps: OnBehalfDeps, authorizerAppid: string, url: string): Promise<JsapiConfig> => {
  const page = pageUrl(url);
  const { ticket } = await getJsapiTicket(deps, authorizerAppid);
  const nonceStr = jsapiNonce();
  const timestamp = nowSeconds(deps.clock);
  return { appId: authorizerAppid, timestamp, nonceStr, signature: jsapiSignature({ ticket, nonceStr, timestamp, url: page }) };
};

/** The `token` function's answer to a JS-SDK request. */
export const answerJsapi = async (deps: OnBehalfDeps, request: JsapiRequest): Promise<{ ticket: string; expiresAt: number } | JsapiConfig> => {
  if (request.kind === 'jsapiSignature') return createJsapiConfig(deps, request.authorizerAppid, request.url);
  const { ticket, expiresAt } = await getJsapiTicket(deps, request.authorizerAppid);
  return { ticket, expiresAt };
};
