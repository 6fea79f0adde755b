// The operator actions of the `admin` function (docs/architecture.md §7): action name → AdminAction. Each
// capability exports its actions from its own folder; this registry only names them. Add an entry per action.
import type { AdminAction } from './action.ts';
import { authorizationLink } from '../authorization/link-action.ts';
import { FLEET_ACTIONS } from '../fleet/actions.ts';

export const adminActions: Readonly<Record<string, AdminAction>> = {
  authorizationLink,
  // templates, rollout, rolloutStatus, release, revert (docs/fleet.md)
  ...FLEET_ACTIONS,
};
