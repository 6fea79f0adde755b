// Operator actions on the authorized accounts (docs/architecture.md §7): page through them, re-read one from
// WeChat, read and set its options. None ever shows a token; a change of permissions found by a re-read is
// announced (`Authorizer Updated`) in the same write that stores it.
import { permissionsRefetched } from '../events/authorizer-events.ts';
import { BadRequestError } from '../kernel/errors.ts';
import { getAuthorizer, InvalidCursorError, LIST_PAGE_MAX, listAuthorizers, updateAuthorizerInfo } from '../store/authorizers.ts';
import { AuthorizerNotFoundError } from '../tokens/errors.ts';
import { withAuthorizerToken } from '../tokens/authorizer-token.ts';
import { withComponentToken } from '../tokens/component-token.ts';
import type { AdminAction } from './action.ts';
import { integerField, onlyFields, requiredAppid, requiredText, textField } from './input.ts';

/** `list {cursor?, limit?}`: one page of accounts ordered by appid, and the cursor of the next. */
export const list: AdminAction = async (deps, input) => {
  onlyFields(input, ['cursor', 'limit']);
  const cursor = textField(input, 'cursor', /^[A-Za-z0-9_-]{1,2048}$/, 'the cursor a previous page returned');
  const limit = integerField(input, 'limit', 1, LIST_PAGE_MAX);
  try {
    const page = await listAuthorizers(deps, { ...(cursor ? { cursor } : {}), ...(limit ? { limit } : {}) });
    return { authorizers: page.authorizers, ...(page.cursor ? { cursor: page.cursor } : {}) };
  } catch (error) {
    if (error instanceof InvalidCursorError) throw new BadRequestError(error.message, { cause: error });
    throw error;
  }
};

const REFETCH_ATTEMPTS = 3;

/**
 * `refetchInfo {authorizerAppid}`: reads the account's info and permissions again (api_get_authorizer_info) and
 * stores them; other permissions than stored are announced as `Authorizer Updated` in the same write. Its
 * refresh token is left alone (repairing that is `reconcile`'s).
 */
export const refetchInfo: AdminAction = async (deps, input) => {
  onlyFields(input, ['authorizerAppid']);
  const authorizerAppid = requiredAppid(input, 'authorizerAppid');
  const componentAppId = deps.config.componentAppId;
  for (let attempt = 1; ; attempt += 1) {
    const profile = await getAuthorizer(deps, authorizerAppid);
    if (!profile) throw new AuthorizerNotFoundError(`${authorizerAppid} has never authorized this component`);
    const { authorizerInfo, authorizationInfo } = await withComponentToken(deps, (t) =>
      deps.wechat.apiGetAuthorizerInfo(t, { componentAppId, authorizerAppid }),
    );
    const funcInfo = [...authorizationInfo.funcInfo];
    const events = permissionsRefetched(deps, profile, funcInfo);
    // Only over the profile the events were computed from; a write in between makes us read again.
    if (await updateAuthorizerInfo(deps, authorizerAppid, authorizerInfo, funcInfo, { version: profile.version, events })) {
      deps.logger.info('admin.info_refetched', { authorizerAppid, permissionsChanged: events.length > 0 });
      return {
        authorizerAppid,
        status: profile.status,
        nickName: authorizerInfo.nickName,
        userName: authorizerInfo.userName,
        funcInfo: [...funcInfo].sort((a, b) => a - b),
        permissionsChanged: events.length > 0,
      };
    }
    if (attempt >= REFETCH_ATTEMPTS) throw new Error(`${authorizerAppid}: the profile kept changing during the re-read`);
  }
};

/** The options WeChat lets a component set for an account, with their values (docs/protocol.md §1.7). */
export const OPTION_VALUES: Readonly<Record<string, readonly string[]>> = {
  location_report: ['0', '1', '2'],
  voice_recognize: ['0', '1'],
  customer_service: ['0', '1'],
};

const optionName = (input: Parameters<AdminAction>[1]): string => {
  const name = input.optionName;
  if (typeof name !== 'string' || !Object.hasOwn(OPTION_VALUES, name)) {
    throw new BadRequestError(`"optionName" must be one of ${Object.keys(OPTION_VALUES).join(', ')}`);
  }
  return name;
};

/** `getOption {authorizerAppid, optionName}`: one option of the account (current path, its own token). */
export const getOption: AdminAction = async (deps, input) => {
  onlyFields(input, ['authorizerAppid', 'optionName']);
  const authorizerAppid = requiredAppid(input, 'authorizerAppid');
  const name = optionName(input);
  const option = await withAuthorizerToken(deps, authorizerAppid, (t) => deps.wechat.getAuthorizerOption(t, { optionName: name }));
  return { authorizerAppid, ...option };
};

/** `setOption {authorizerAppid, optionName, optionValue}`: sets one option (values per OPTION_VALUES). */
export const setOption: AdminAction = async (deps, input) => {
  onlyFields(input, ['authorizerAppid', 'optionName', 'optionValue']);
  const authorizerAppid = requiredAppid(input, 'authorizerAppid');
  const name = optionName(input);
  const allowed = OPTION_VALUES[name] ?? [];
  const optionValue = requiredText(input, 'optionValue', new RegExp(`^(${allowed.join('|')})$`), `one of ${allowed.join(', ')} for ${name}`);
  await withAuthorizerToken(deps, authorizerAppid, (t) => deps.wechat.setAuthorizerOption(t, { optionName: name, optionValue }));
  deps.logger.info('admin.option_set', { authorizerAppid, optionName: name, optionValue });
  return { authorizerAppid, optionName: name, optionValue };
};
