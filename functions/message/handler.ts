import { NotAvailableError } from '../../lib/errors.ts';

// The capability behind this function lands in a later issue; until then it says so instead of faking success.
export const handler = async (): Promise<never> => {
  throw new NotAvailableError('the message function is not available yet');
};
