// Rollouts (docs/fleet.md): ROLLOUT#<id>/ROLLOUT, the header (what to deploy, to whom, how to release), and
// ROLLOUT#<id>/ACCOUNT#<appid>, one item per mini program with its stage. No TTL on either: a rollout is a durable
// job. Every account write increments `version`; a step decides on one version (a stream image) and writes only
// if the item is still at it, and a claimed step finishes only while it still holds its claim (`claimId`), so
// concurrent consumers and stale stream records never act twice.
import { BatchWriteCommand, GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { nowSeconds } from '../kernel/clock.ts';
import { AppError } from '../kernel/errors.ts';
import { getItems } from './table.ts';
import { cancelledAt, conditionMet } from './table.ts';
import { ACTIVE_ROLLOUTS, GSI1, ROLLOUT_ACCOUNT_PREFIX, rolloutAccountKey, rolloutKey } from './keys.ts';
import { outboxPut, type OutboxEvent } from './outbox.ts';
import type { AuditRecord, RolloutAccount, RolloutHeader } from './rollout-types.ts';
import type { StoreDeps } from './keys.ts';

export type * from './rollout-types.ts';

/** A rollout id this module did not issue, or a header that is not there. */
export class RolloutNotFoundError extends AppError {}

const table = (deps: StoreDeps) => deps.tableName;

/** Writes a new header (status planning, listed as active). */
export const createRolloutHeader = async (deps: StoreDeps, header: RolloutHeader): Promise<void> => {
  await deps.doc.send(
    new PutCommand({
      TableName: table(deps),
      Item: { ...rolloutKey(header.rolloutId), ...header, gsi1pk: ACTIVE_ROLLOUTS, gsi1sk: header.rolloutId },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
};

const toHeader = (item: Record<string, unknown> | undefined): RolloutHeader | undefined => {
  if (item?.sk !== 'ROLLOUT') return undefined;
  const { pk: _pk, sk: _sk, gsi1pk: _g, gsi1sk: _s, ...header } = item;
  return header as unknown as RolloutHeader;
};

export const getRolloutHeader = async (deps: StoreDeps, rolloutId: string): Promise<RolloutHeader | undefined> => {
  const { Item } = await deps.doc.send(new GetCommand({ TableName: table(deps), Key: rolloutKey(rolloutId), ConsistentRead: true }));
  return toHeader(Item);
};

/** Updates header fields while the header is at `version`; false if it moved on. */
export const updateRolloutHeader = async (
  deps: StoreDeps,
  header: Pick<RolloutHeader, 'rolloutId' | 'version'>,
  change: { set?: Record<string, unknown>; remove?: string[]; active?: boolean },
  events: readonly OutboxEvent[] = [],
): Promise<boolean> => {
  const update = updateOf(
    { ...change.set, ...(change.active === true ? { gsi1pk: ACTIVE_ROLLOUTS, gsi1sk: header.rolloutId } : {}) },
    [...(change.remove ?? []), ...(change.active === false ? ['gsi1pk', 'gsi1sk'] : [])],
    nowSeconds(deps.clock),
  );
  const item: UpdateItem = {
    TableName: table(deps),
    Key: rolloutKey(header.rolloutId),
    ...update,
    ConditionExpression: 'version = :expected',
    ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':expected': header.version },
  };
  return send(deps, item, events);
};

/** The ids of the rollouts still planning or running, from gsi1. */
export const listActiveRollouts = async (deps: StoreDeps): Promise<string[]> => {
  const ids: string[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await deps.doc.send(
      new QueryCommand({
        TableName: table(deps),
        IndexName: GSI1,
        KeyConditionExpression: 'gsi1pk = :active',
        ExpressionAttributeValues: { ':active': ACTIVE_ROLLOUTS },
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    ids.push(...(page.Items ?? []).map((i) => String(i.gsi1sk)));
    start = page.LastEvaluatedKey;
  } while (start);
  return ids;
};

const BATCH_WRITE_MAX = 25;
const BATCH_WRITE_ATTEMPTS = 8;

/** Batches written at once by putRolloutAccounts. */
const BATCH_WRITES_IN_FLIGHT = 8;

const writeBatch = async (deps: StoreDeps, items: readonly RolloutAccount[]): Promise<void> => {
  let pending: Record<string, unknown>[] = items.map((a) => ({
    PutRequest: { Item: { ...rolloutAccountKey(a.rolloutId, a.authorizerAppid), ...a } },
  }));
  for (let attempt = 0; pending.length > 0; attempt += 1) {
    if (attempt === BATCH_WRITE_ATTEMPTS) throw new Error(`BatchWriteItem left ${pending.length} item(s) unprocessed`);
    if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
    const out = await deps.doc.send(new BatchWriteCommand({ RequestItems: { [table(deps)]: pending } }));
    pending = (out.UnprocessedItems?.[table(deps)] ?? []) as Record<string, unknown>[];
  }
};

/** Writes new account items (stage pending) in batches of 25, several at once, retrying what DynamoDB leaves unprocessed. */
export const putRolloutAccounts = async (deps: StoreDeps, accounts: readonly RolloutAccount[]): Promise<void> => {
  const batches: RolloutAccount[][] = [];
  for (let i = 0; i < accounts.length; i += BATCH_WRITE_MAX) batches.push(accounts.slice(i, i + BATCH_WRITE_MAX));
  for (let i = 0; i < batches.length; i += BATCH_WRITES_IN_FLIGHT) {
    await Promise.all(batches.slice(i, i + BATCH_WRITES_IN_FLIGHT).map((batch) => writeBatch(deps, batch)));
  }
};

/** Which of `appids` have no account item in the rollout yet (a planning run that resumes after a crash). */
export const missingRolloutAccounts = async (deps: StoreDeps, rolloutId: string, appids: readonly string[]): Promise<string[]> => {
  const found = new Set<string>();
  for (let i = 0; i < appids.length; i += 100) {
    const items = await getItems(
      deps,
      appids.slice(i, i + 100).map((a) => rolloutAccountKey(rolloutId, a)),
      { consistent: true },
    );
    for (const item of items) found.add(String(item.authorizerAppid));
  }
  return appids.filter((a) => !found.has(a));
};

const toAccount = (item: Record<string, unknown>): RolloutAccount => {
  const { pk: _pk, sk: _sk, ...account } = item;
  return account as unknown as RolloutAccount;
};

/** Every account item of a rollout, page by page (a Query of its partition; the header is skipped). */
export async function* rolloutAccounts(deps: StoreDeps, rolloutId: string, options: { consistent?: boolean } = {}): AsyncGenerator<RolloutAccount[]> {
  let start: Record<string, unknown> | undefined;
  do {
    const page = await deps.doc.send(
      new QueryCommand({
        TableName: table(deps),
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :account)',
        ExpressionAttributeValues: { ':pk': rolloutKey(rolloutId).pk, ':account': ROLLOUT_ACCOUNT_PREFIX },
        ConsistentRead: options.consistent ?? false,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    yield (page.Items ?? []).map(toAccount);
    start = page.LastEvaluatedKey;
  } while (start);
}

/** An account item as the stream's NEW_IMAGE carries it, or undefined when the image is not one. */
export const rolloutAccountFromImage = (image: Record<string, unknown> | undefined): RolloutAccount | undefined => {
  const ok =
    image &&
    typeof image.pk === 'string' &&
    image.pk.startsWith('ROLLOUT#') &&
    typeof image.sk === 'string' &&
    image.sk.startsWith(ROLLOUT_ACCOUNT_PREFIX) &&
    typeof image.stage === 'string' &&
    typeof image.version === 'number' &&
    typeof image.rolloutId === 'string' &&
    typeof image.authorizerAppid === 'string';
  return ok ? toAccount(image) : undefined;
};

/** What an account write requires of the stored item. */
export type AccountGuard = { readonly version: number } | { readonly claimId: string } | { readonly exists: true };

const guard = (condition: string, values: Record<string, unknown>) => ({ ConditionExpression: condition, ExpressionAttributeValues: values });

const guardOf = (expect: AccountGuard) => {
  if ('version' in expect) return guard('version = :expected', { ':expected': expect.version });
  if ('claimId' in expect) return guard('claimId = :expected', { ':expected': expect.claimId });
  return guard('attribute_exists(pk)', {});
};

/** SET the given fields (and updatedAt), REMOVE the others, ADD 1 to version; every name through a placeholder. */
const updateOf = (set: Record<string, unknown>, remove: readonly string[], now: number) => {
  const names: Record<string, string> = { '#version': 'version', '#updatedAt': 'updatedAt' };
  const values: Record<string, unknown> = { ':one': 1, ':now': now };
  const sets = ['#updatedAt = :now'];
  for (const [i, [name, value]] of Object.entries(set).entries()) {
    if (value === undefined) continue;
    names[`#s${i}`] = name;
    values[`:s${i}`] = value;
    sets.push(`#s${i} = :s${i}`);
  }
  const removes = remove.map((name, i) => {
    names[`#r${i}`] = name;
    return `#r${i}`;
  });
  const expression = `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''} ADD #version :one`;
  return { UpdateExpression: expression, ExpressionAttributeNames: names, ExpressionAttributeValues: values };
};

type UpdateItem = ReturnType<typeof updateOf> & { TableName: string; Key: Record<string, string>; ConditionExpression: string };

/** One conditional update, with its outbox events and extra items in the same transaction; false if the condition failed. */
const send = async (deps: StoreDeps, item: UpdateItem, events: readonly OutboxEvent[], extra: readonly Record<string, unknown>[] = []) => {
  const merged = { ...item, ExpressionAttributeValues: { ...item.ExpressionAttributeValues } };
  if (events.length === 0 && extra.length === 0) return conditionMet(() => deps.doc.send(new UpdateCommand(merged)));
  try {
    await deps.doc.send(
      new TransactWriteCommand({ TransactItems: [{ Update: merged }, ...extra, ...events.map((e) => outboxPut(deps, e))] as never }),
    );
    return true;
  } catch (error) {
    if (cancelledAt(error).includes(0)) return false;
    throw error;
  }
};

export interface AccountChange {
  readonly set?: Readonly<Record<string, unknown>>;
  readonly remove?: readonly string[];
  /** Outbox events written in the same transaction (lib/store/outbox.ts). */
  readonly events?: readonly OutboxEvent[];
  /** Further transaction items (e.g. the current-rollout pointer). */
  readonly extra?: readonly Record<string, unknown>[];
}

/** Applies `change` to one account item if it still meets `expect`; false when it does not (someone else acted). */
export const updateRolloutAccount = (
  deps: StoreDeps,
  account: Pick<RolloutAccount, 'rolloutId' | 'authorizerAppid'>,
  expect: AccountGuard,
  change: AccountChange,
): Promise<boolean> => {
  const update = updateOf(change.set ?? {}, change.remove ?? [], nowSeconds(deps.clock));
  const condition = guardOf(expect);
  const item: UpdateItem = {
    TableName: table(deps),
    Key: rolloutAccountKey(account.rolloutId, account.authorizerAppid),
    ...update,
    ConditionExpression: condition.ConditionExpression,
    ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ...condition.ExpressionAttributeValues },
  };
  return send(deps, item, change.events ?? [], change.extra ?? []);
};

export const getRolloutAccount = async (deps: StoreDeps, rolloutId: string, appid: string): Promise<RolloutAccount | undefined> => {
  const { Item } = await deps.doc.send(new GetCommand({ TableName: table(deps), Key: rolloutAccountKey(rolloutId, appid), ConsistentRead: true }));
  return Item ? toAccount(Item) : undefined;
};

/** Orders audit results: by time, and a final result after a delay of the same second. */
export const auditSeqOf = (audit: Pick<AuditRecord, 'at' | 'outcome'>): number => audit.at * 2 + (audit.outcome === 'delay' ? 0 : 1);

/** The stages in which an audit result belongs to the account's current submission. */
const AUDITABLE = ['submitting', 'submitted', 'audit_delayed'];

/**
 * Records an audit result on the account (with its outbox events, one transaction) if the account is waiting for
 * one and the result is newer than the one it holds: a final result outranks a delay of the same second.
 * False when the account is not waiting (then nothing is written).
 */
export const recordAccountAudit = async (
  deps: StoreDeps,
  account: Pick<RolloutAccount, 'rolloutId' | 'authorizerAppid'>,
  audit: AuditRecord,
  events: readonly OutboxEvent[],
): Promise<boolean> => {
  const seq = auditSeqOf(audit);
  const update = updateOf({ auditResult: audit, auditSeq: seq }, [], nowSeconds(deps.clock));
  const stages = Object.fromEntries(AUDITABLE.map((s, i) => [`:st${i}`, s]));
  const item: UpdateItem = {
    TableName: table(deps),
    Key: rolloutAccountKey(account.rolloutId, account.authorizerAppid),
    ...update,
    ConditionExpression: `#stage IN (${Object.keys(stages).join(', ')}) AND (attribute_not_exists(#auditSeq) OR #auditSeq < :seq)`,
    ExpressionAttributeNames: { ...update.ExpressionAttributeNames, '#stage': 'stage', '#auditSeq': 'auditSeq' },
    ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ...stages, ':seq': seq },
  };
  return send(deps, item, events);
};
