// The edge of the directly invoked functions (`token`; the planned `admin` and `login`): the only place their
// errors become answers (docs/style.md §16). An expected failure (a bad request, or an ExpectedError with its
// stable `type`) is answered `{"error":{"type","message"}}`; anything else is rethrown, so Lambda reports a
// function error and the Errors alarm sees it.
import type { MiddlewareObj } from '@middy/core';
import { BadRequestError, ExpectedError } from '../kernel/errors.ts';
import type { EdgeContext } from './lambda.ts';

/** What a caller receives for an expected failure. */
export interface InvokeFailure {
  readonly error: { readonly type: string; readonly message: string };
}

/** The answer for an expected failure; undefined for anything else (a bug or an outage). */
export const invokeFailureOf = (error: unknown): InvokeFailure | undefined => {
  if (error instanceof ExpectedError) return { error: { type: error.type, message: error.message } };
  if (error instanceof BadRequestError) return { error: { type: 'bad_request', message: error.message } };
  return undefined;
};

/** Answers expected failures as InvokeFailure; the handler's result type R must include InvokeFailure. */
export const invokeErrorBoundary = <E, R>({ logger }: EdgeContext): MiddlewareObj<E, R> => ({
  onError: (request) => {
    const failure = invokeFailureOf(request.error);
    if (!failure) return;
    logger().warn('invoke.failed', { type: failure.error.type, requestId: request.context?.awsRequestId }, request.error);
    request.response = failure as R;
  },
});
