// The lasting failure an account's refresh ended in, kept on its PROFILE (docs/events.md "Token Refresh
// Failed"): an errcode retrying will not fix (45009 quota, 61004 IP whitelist, …). Recording it is the state
// change the event reports, and the condition makes a failure that repeats every scheduled run announce once.
// The next good refresh removes it (grants.ts).
import { nowSeconds } from '../kernel/clock.ts';
import type { AuthorizerProfile } from './authorizers.ts';
import { authorizerKey } from './keys.ts';
import { type OutboxEvent, updateWithEvents } from './outbox.ts';
import type { StoreDeps } from './keys.ts';

export interface RefreshFailure {
  /** The API that failed, e.g. `component/api_authorizer_token`. */
  readonly api: string;
  readonly errcode: number;
  /** As WeChat sent it (with its `rid`), never a token. */
  readonly errmsg: string;
  /** Epoch seconds. */
  readonly at: number;
}

/**
 * Records `failure` on an authorized account still holding `seen.refreshToken`, with `events`, unless the
 * same errcode is already recorded. True when written (announce), false when nothing changed.
 */
export const recordRefreshFailure = (
  deps: StoreDeps,
  appid: string,
  seen: Pick<AuthorizerProfile, 'refreshToken'>,
  failure: Omit<RefreshFailure, 'at'>,
  events: readonly OutboxEvent[] = [],
): Promise<boolean> => {
  const recorded: RefreshFailure = { api: failure.api, errcode: failure.errcode, errmsg: failure.errmsg, at: nowSeconds(deps.clock) };
  return updateWithEvents(
    deps,
    {
      TableName: deps.tableName,
      Key: authorizerKey(appid, 'PROFILE'),
      UpdateExpression: 'SET refreshFailure = :failure, updatedAt = :now ADD version :one',
      ConditionExpression:
        '#status = :authorized AND refreshToken = :rt AND (attribute_not_exists(refreshFailure) OR refreshFailure.errcode <> :errcode)',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':failure': recorded,
        ':now': recorded.at,
        ':one': 1,
        ':authorized': 'authorized',
        ':rt': seen.refreshToken,
        ':errcode': failure.errcode,
      },
    },
    events,
  );
};
