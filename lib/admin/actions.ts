// The operator actions of the `admin` function (docs/architecture.md §7): action name → AdminAction. Each
// capability exports its actions from its own folder; this registry only names them. Add an entry per action.
import type { AdminAction } from './action.ts';
import { authorizationLink } from '../authorization/link-action.ts';
import { FLEET_ACTIONS } from '../fleet/actions.ts';
import { oauthUrl } from '../on-behalf/oauth.ts';
import { getOption, list, refetchInfo, setOption } from './accounts.ts';
import { clearQuota, quota, startPushTicket } from './recovery.ts';

export const adminActions: Readonly<Record<string, AdminAction>> = {
  authorizationLink,
  startPushTicket,
  quota,
  clearQuota,
  refetchInfo,
  getOption,
  setOption,
  list,
  oauthUrl,
  // templates, rollout, rolloutStatus, release, revert (docs/fleet.md)
  ...FLEET_ACTIONS,
};
