// A revocation that arrives before the account's first grant. Stream records of different EVENT items can be
// processed out of order in AWS (one shard each), so `unauthorized` may be consumed while no PROFILE exists
// yet. Its time is kept in a REVOCATION marker (no TTL, like the profile), and a first grant is stored only
// in a transaction that checks the marker, so an older grant consumed later cannot bring the account back.
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { nowSeconds } from '../kernel/clock.ts';
import { conditionMet } from './conditional.ts';
import { authorizerKey } from './keys.ts';
import type { StoreDeps } from './types.ts';

/** Records (or moves later) the revocation time of an account that has no profile yet. */
export const recordEarlyRevocation = (deps: StoreDeps, appid: string, eventTime: number): Promise<boolean> =>
  conditionMet(() =>
    deps.doc.send(
      new PutCommand({
        TableName: deps.tableName,
        Item: { ...authorizerKey(appid, 'REVOCATION'), authorizerAppid: appid, unauthorizedAt: eventTime, updatedAt: nowSeconds(deps.clock) },
        ConditionExpression: 'attribute_not_exists(pk) OR unauthorizedAt < :t',
        ExpressionAttributeValues: { ':t': eventTime },
      }),
    ),
  );

/** The transaction item that lets a first grant through only if no later revocation was recorded before it. */
export const noLaterRevocation = (deps: StoreDeps, appid: string, authorizedAt: number) => ({
  ConditionCheck: {
    TableName: deps.tableName,
    Key: authorizerKey(appid, 'REVOCATION'),
    ConditionExpression: 'attribute_not_exists(pk) OR unauthorizedAt < :authorizedAt',
    ExpressionAttributeValues: { ':authorizedAt': authorizedAt },
  },
});
