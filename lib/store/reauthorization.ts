// An authorization that brings no access token (api_query_auth answered without one, or the authorization was
// recovered from api_get_authorizer_info): the old grant's access token is no longer valid and must go, but a
// token another caller obtained since, with the NEW refresh token, must stay (deleting it costs a WeChat call).
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { nowSeconds } from '../kernel/clock.ts';
import { saveAuthorization, type GrantChange, type NewAuthorization } from './grants.ts';
import type { Announce } from './outbox.ts';
import { authorizerKey } from './keys.ts';
import { getAuthorizerToken } from './tokens.ts';
import type { StoreDeps } from './types.ts';

/**
 * Deletes the account's access token only if it belongs to the old grant: it is the token seen before the new
 * authorization was stored, or it was obtained before that second. Returns whether a token was deleted.
 */
export const deleteOldGrantToken = async (deps: StoreDeps, appid: string, old: { accessToken?: string; before: number }): Promise<boolean> => {
  const older = 'attribute_not_exists(obtainedAt) OR obtainedAt < :before';
  try {
    await deps.doc.send(
      new DeleteCommand({
        TableName: deps.tableName,
        Key: authorizerKey(appid, 'ACCESS_TOKEN'),
        ConditionExpression: old.accessToken ? `accessToken = :seen OR ${older}` : `attribute_exists(pk) AND (${older})`,
        ExpressionAttributeValues: { ':before': old.before, ...(old.accessToken ? { ':seen': old.accessToken } : {}) },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
};

/**
 * Stores an authorization without an access token (saveAuthorization) and, if it was stored, drops the old
 * grant's token, never one obtained since with the new refresh token.
 */
export const saveAuthorizationWithoutToken = async (
  deps: StoreDeps,
  appid: string,
  a: Omit<NewAuthorization, 'accessToken' | 'expiresAt'>,
  announce?: Announce<GrantChange>,
) => {
  const seen = await getAuthorizerToken(deps, appid, { consistent: true });
  const before = nowSeconds(deps.clock);
  const saved = await saveAuthorization(deps, appid, a, announce);
  if (saved === 'saved') await deleteOldGrantToken(deps, appid, { before, ...(seen ? { accessToken: seen.accessToken } : {}) });
  return saved;
};
