// Conditional writes are how this project serialises work across Lambdas: a write whose condition fails is
// an expected answer ("someone else got there first"), not an error. These helpers turn DynamoDB's
// exceptions for that answer into values, and let every other failure through.
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';

/** Runs one conditional write: true if it was applied, false if its condition failed; other errors throw. */
export const conditionMet = async (write: () => Promise<unknown>): Promise<boolean> => {
  try {
    await write();
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
};

/** Indexes of the transaction items whose condition failed; empty when `error` is not a cancelled transaction. */
export const cancelledAt = (error: unknown): number[] =>
  error instanceof TransactionCanceledException
    ? (error.CancellationReasons ?? []).flatMap((r, i) => (r.Code === 'ConditionalCheckFailed' ? [i] : []))
    : [];
