// WeChat's own recovery tools as operator actions (docs/operations.md): when the ticket stops arriving,
// when an API's daily quota runs out (45009). Each is a plain call; WeChat's answer, errors included, is the
// action's answer (the admin function turns a WeChat error into {"error":{"type":"wechat_error","errcode"}}).
import { withAuthorizerToken } from '../tokens/authorizer-token.ts';
import { withComponentToken } from '../tokens/component-token.ts';
import type { AdminAction } from './action.ts';
import { appidField, onlyFields, requiredText } from './input.ts';

/**
 * `startPushTicket`: asks WeChat to resume pushing component_verify_ticket (api_start_push_ticket). The ticket
 * then arrives at the authorization event URL within minutes, like the ten-minute pushes.
 */
export const startPushTicket: AdminAction = async (deps, input) => {
  onlyFields(input, []);
  await deps.wechat.apiStartPushTicket({ componentAppId: deps.config.componentAppId, componentSecret: deps.secrets.appSecret });
  deps.logger.info('admin.push_ticket_started', { componentAppId: deps.config.componentAppId });
  return { started: true, next: 'WeChat pushes a new ticket to POST /wechat/component/events within minutes' };
};

const CGI_PATH = /^\/[A-Za-z0-9_./-]{1,200}$/;

/**
 * `quota {cgiPath, authorizerAppid?}`: the daily quota of one API (openapi/quota/get), the component's, or with
 * `authorizerAppid` that account's (calls made on its behalf count against its own quota).
 */
export const quota: AdminAction = async (deps, input) => {
  onlyFields(input, ['cgiPath', 'authorizerAppid']);
  const cgiPath = requiredText(input, 'cgiPath', CGI_PATH, 'an API path such as /cgi-bin/component/api_component_token');
  const authorizerAppid = appidField(input, 'authorizerAppid');
  const call = (token: string) => deps.wechat.getApiQuota(token, { cgiPath });
  const answer = authorizerAppid ? await withAuthorizerToken(deps, authorizerAppid, call) : await withComponentToken(deps, call);
  return { cgiPath, ...(authorizerAppid ? { authorizerAppid } : {}), ...answer };
};

/**
 * `clearQuota {authorizerAppid?}`: resets the daily quotas by the app secret (clear_quota/v2), the component's
 * or one account's. WeChat allows 10 clears a month in all (48006 once they are used up).
 */
export const clearQuota: AdminAction = async (deps, input) => {
  onlyFields(input, ['authorizerAppid']);
  const authorizerAppid = appidField(input, 'authorizerAppid');
  const componentAppId = deps.config.componentAppId;
  await deps.wechat.clearComponentQuotaV2({
    componentAppId,
    appSecret: deps.secrets.appSecret,
    ...(authorizerAppid ? { appid: authorizerAppid } : {}),
  });
  deps.logger.warn('admin.quota_cleared', { componentAppId, authorizerAppid });
  return { cleared: authorizerAppid ?? componentAppId, note: 'one of the 10 clears WeChat allows per month' };
};
