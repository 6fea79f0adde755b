// One-off migration of a table written before the schedule moved onto the profiles (docs/data-model.md,
// "Migration from the first version of this table"): every profile gets its gsi2 listing keys and, while
// authorized, nextRefreshAt with the gsi1 schedule keys; token items lose their schedule keys; items with a
// domain expiresAt and no ttl get one. Idempotent. A Scan, on purpose: it runs once, not per request.
//   TABLE_NAME=wechat-component-prod npx node scripts/migrate-schedule.ts
import { fileURLToPath } from 'node:url';
import { ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { systemClock, nowSeconds } from '../lib/kernel/clock.ts';
import { createDocumentClient } from '../lib/runtime/deps.ts';
import { AUTHORIZER_LIST, TOKEN_RETENTION_S } from '../lib/store/keys.ts';
import { nextRefreshFor, scheduleAttributes } from '../lib/store/schedule.ts';
import type { StoreDeps } from '../lib/store/keys.ts';

export interface MigrationSummary {
  scanned: number;
  profiles: number;
  scheduled: number;
  tokens: number;
  ttlAdded: number;
}

type Item = Record<string, unknown>;

const update = (deps: StoreDeps, item: Item, expression: string, values: Record<string, unknown>, names?: Record<string, string>) =>
  deps.doc.send(
    new UpdateCommand({
      TableName: deps.tableName,
      Key: { pk: item.pk, sk: item.sk },
      UpdateExpression: expression,
      ConditionExpression: 'attribute_exists(pk)',
      ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
      ...(names ? { ExpressionAttributeNames: names } : {}),
    }),
  );

const migrateProfile = async (deps: StoreDeps, profile: Item, tokenExpiresAt: number | undefined, summary: MigrationSummary) => {
  summary.profiles += 1;
  const appid = String(profile.authorizerAppid);
  if (profile.status !== 'authorized') {
    await update(deps, profile, 'SET gsi2pk = :list, gsi2sk = :appid REMOVE gsi1pk, gsi1sk, nextRefreshAt', {
      ':list': AUTHORIZER_LIST,
      ':appid': appid,
    });
    return;
  }
  const now = nowSeconds(deps.clock);
  const next = typeof profile.nextRefreshAt === 'number' ? profile.nextRefreshAt : tokenExpiresAt ? nextRefreshFor(tokenExpiresAt) : now;
  const schedule = scheduleAttributes(appid, next);
  await update(deps, profile, 'SET gsi2pk = :list, gsi2sk = :appid, nextRefreshAt = :next, gsi1pk = :due, gsi1sk = :sk', {
    ':list': AUTHORIZER_LIST,
    ':appid': appid,
    ':next': next,
    ':due': schedule.gsi1pk,
    ':sk': schedule.gsi1sk,
  });
  summary.scheduled += 1;
};

const migrateOther = async (deps: StoreDeps, item: Item, summary: MigrationSummary) => {
  const isToken = item.sk === 'ACCESS_TOKEN';
  if (isToken && item.gsi1pk !== undefined) {
    await update(deps, item, 'REMOVE gsi1pk, gsi1sk', {});
    summary.tokens += 1;
  }
  if (item.ttl === undefined && typeof item.expiresAt === 'number') {
    // Leases and events kept expiresAt as their TTL only; it becomes ttl (their readers never used it).
    const ttl = isToken ? item.expiresAt + TOKEN_RETENTION_S : item.expiresAt;
    await update(deps, item, 'SET #ttl = :ttl', { ':ttl': ttl }, { '#ttl': 'ttl' });
    summary.ttlAdded += 1;
  }
};

/** Scans the table once, migrating every item that needs it. */
export const migrateSchedule = async (deps: StoreDeps): Promise<MigrationSummary> => {
  const summary: MigrationSummary = { scanned: 0, profiles: 0, scheduled: 0, tokens: 0, ttlAdded: 0 };
  let cursor: Item | undefined;
  do {
    const page = await deps.doc.send(
      new ScanCommand({ TableName: deps.tableName, ConsistentRead: true, ...(cursor ? { ExclusiveStartKey: cursor } : {}) }),
    );
    const items = page.Items ?? [];
    summary.scanned += items.length;
    for (const item of items) {
      if (item.sk === 'PROFILE') {
        const token = items.find((i) => i.pk === item.pk && i.sk === 'ACCESS_TOKEN');
        await migrateProfile(deps, item, typeof token?.expiresAt === 'number' ? token.expiresAt : undefined, summary);
      } else await migrateOther(deps, item, summary);
    }
    cursor = page.LastEvaluatedKey;
  } while (cursor);
  return summary;
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const tableName = process.env.TABLE_NAME;
  if (!tableName) {
    process.stderr.write('TABLE_NAME is required, e.g. TABLE_NAME=wechat-component-prod npx node scripts/migrate-schedule.ts\n');
    process.exit(2);
  }
  const doc = createDocumentClient({ dynamodbEndpoint: process.env.DYNAMODB_ENDPOINT || undefined });
  const summary = await migrateSchedule({ doc, tableName, clock: systemClock });
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  doc.destroy();
}
