// WeChat's own list of the accounts that authorize this component (api_get_authorizer_list), walked whole. One
// walk per refresh run is shared by every account whose refresh token WeChat rejected (61023), so a mass 61023
// costs one walk, not one per account (N accounts × N/500 pages), and the daily reconcile uses the same walk.
import type { WeChatDeps } from '../runtime/wechat-deps.ts';
import type { AuthorizerListEntry } from '../wechat/responses.ts';
import { withComponentToken } from './component-token.ts';
import type { Renew } from './single-flight.ts';

/** api_get_authorizer_list page size (WeChat's maximum). */
export const AUTHORIZER_LIST_PAGE = 500;
/** Upper bound on pages of one walk (500 × 2,000 = 1,000,000 accounts). */
export const AUTHORIZER_LIST_MAX_PAGES = 2_000;

/** Every listed account by appid, and the pages it took. */
export interface AuthorizerListWalk {
  readonly entries: ReadonlyMap<string, AuthorizerListEntry>;
  readonly pages: number;
  readonly totalCount: number;
}

/**
 * Pages through the whole list. `renew` runs before each page (a lease holder's keep-alive); `hasTime` may stop
 * the walk early, which `complete` reports.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/Account_Authorization/api_get_authorizer_list.html
 */
export const walkAuthorizerList = async (
  deps: WeChatDeps,
  options: { renew?: Renew; hasTime?: () => boolean } = {},
): Promise<AuthorizerListWalk & { complete: boolean }> => {
  const entries = new Map<string, AuthorizerListEntry>();
  let offset = 0;
  let totalCount = 0;
  for (let page = 0; page < AUTHORIZER_LIST_MAX_PAGES; page += 1) {
    if (options.hasTime && !options.hasTime()) return { entries, pages: page, totalCount, complete: false };
    const answer = await withComponentToken(deps, async (componentAccessToken) => {
      await options.renew?.();
      return deps.wechat.apiGetAuthorizerList(componentAccessToken, {
        componentAppId: deps.config.componentAppId,
        offset,
        count: AUTHORIZER_LIST_PAGE,
      });
    });
    totalCount = answer.totalCount;
    for (const entry of answer.list) entries.set(entry.authorizerAppid, entry);
    offset += answer.list.length;
    if (answer.list.length === 0 || offset >= answer.totalCount) return { entries, pages: page + 1, totalCount, complete: true };
  }
  return { entries, pages: AUTHORIZER_LIST_MAX_PAGES, totalCount, complete: false };
};

/** The refresh token WeChat lists for an account; one shared walk behind every lookup. */
export interface ListedRefreshTokens {
  refreshTokenOf(appid: string, renew: Renew): Promise<string | undefined>;
  /** Walks started (0 or 1). */
  walks(): number;
}

/**
 * For one refresh run: the first lookup walks the list (renewing the lease of the account that asked), every
 * later one awaits the same walk. A walk that fails fails every lookup with the same error, without a second walk.
 */
export const sharedAuthorizerList = (deps: WeChatDeps): ListedRefreshTokens => {
  let walk: Promise<AuthorizerListWalk> | undefined;
  let started = 0;
  return {
    refreshTokenOf: async (appid, renew) => {
      if (!walk) {
        started += 1;
        walk = walkAuthorizerList(deps, { renew });
      }
      return (await walk).entries.get(appid)?.refreshToken;
    },
    walks: () => started,
  };
};
