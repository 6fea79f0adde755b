// The `authorizationLink` operator action (docs/architecture.md §7): a signed start-page URL for one customer,
// which the operator's console hands to that customer (docs/operations.md, "Authorization links").
import type { ActionInput, AdminAction } from '../admin/action.ts';
import { nowSeconds } from '../kernel/clock.ts';
import { BadRequestError } from '../kernel/errors.ts';
import { isAppId } from '../wechat/ids.ts';
import { newLinkId, signLink, START_PAGE_PATH, TENANT, type AuthType } from './links.ts';

/** A link lives a day unless asked otherwise: long enough to reach the customer, short enough to go stale. */
export const LINK_TTL_DEFAULT_S = 24 * 60 * 60;
const LINK_TTL_MIN_S = 60;
const LINK_TTL_MAX_S = 30 * 24 * 60 * 60;
const FIELDS = new Set(['tenant', 'authType', 'bizAppid', 'ttlSeconds']);

interface LinkRequest {
  readonly tenant?: string;
  readonly authType: AuthType;
  readonly bizAppid?: string;
  readonly ttlSeconds: number;
}

const parseLinkRequest = (input: ActionInput): LinkRequest => {
  const unknown = Object.keys(input).filter((k) => !FIELDS.has(k));
  if (unknown.length > 0) throw new BadRequestError(`unknown field(s): ${unknown.join(', ')} (known: ${[...FIELDS].join(', ')})`);
  const { tenant, authType = 3, bizAppid, ttlSeconds = LINK_TTL_DEFAULT_S } = input;
  if (tenant !== undefined && (typeof tenant !== 'string' || !TENANT.test(tenant))) {
    throw new BadRequestError('"tenant" must be 1-64 letters, digits or _ . : @ - (starting with a letter or digit)');
  }
  if (authType !== 1 && authType !== 2 && authType !== 3)
    throw new BadRequestError('"authType" must be 1 (official accounts), 2 (mini programs) or 3 (both)');
  if (bizAppid !== undefined && (typeof bizAppid !== 'string' || !isAppId(bizAppid))) {
    throw new BadRequestError('"bizAppid" must be an appid: wx followed by 16 hex digits');
  }
  if (typeof ttlSeconds !== 'number' || !Number.isInteger(ttlSeconds) || ttlSeconds < LINK_TTL_MIN_S || ttlSeconds > LINK_TTL_MAX_S) {
    throw new BadRequestError(`"ttlSeconds" must be a whole number of seconds from ${LINK_TTL_MIN_S} to ${LINK_TTL_MAX_S}`);
  }
  return { authType, ttlSeconds, ...(tenant ? { tenant } : {}), ...(bizAppid ? { bizAppid } : {}) };
};

/** `{tenant?, authType?, bizAppid?, ttlSeconds?}` → `{"url","expiresAt"}` (epoch seconds); no table, no WeChat. */
export const authorizationLink: AdminAction = async (deps, input) => {
  const request = parseLinkRequest(input);
  const expiresAt = nowSeconds(deps.clock) + request.ttlSeconds;
  const linkId = newLinkId();
  const { ttlSeconds: _ttl, ...claims } = request;
  const link = signLink(deps.secrets.linkSigningKey, { linkId, expiresAt, ...claims });
  deps.logger.info('authorization.link_issued', {
    linkId,
    tenant: request.tenant,
    authType: request.authType,
    bizAppid: request.bizAppid,
    expiresAt,
  });
  return { url: `${deps.config.publicBaseUrl}${START_PAGE_PATH}?link=${link}`, expiresAt };
};
