// The conditional update every rollout write is (lib/store/rollouts.ts): SET and REMOVE through placeholders,
// `version` incremented, and the outbox events and extra items of the change in the same transaction.
import { TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { cancelledAt, conditionMet } from './conditional.ts';
import { outboxPut, type OutboxEvent } from './outbox.ts';
import type { StoreDeps } from './types.ts';

/** SET the given fields (and updatedAt), REMOVE the others, ADD 1 to version; every name through a placeholder. */
export const updateOf = (set: Record<string, unknown>, remove: readonly string[], now: number) => {
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

export type UpdateItem = ReturnType<typeof updateOf> & { TableName: string; Key: Record<string, string>; ConditionExpression: string };

/** One conditional update, with its outbox events and extra items in the same transaction; false if the condition failed. */
export const sendUpdate = async (
  deps: StoreDeps,
  item: UpdateItem,
  events: readonly OutboxEvent[],
  extra: readonly Record<string, unknown>[] = [],
) => {
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
