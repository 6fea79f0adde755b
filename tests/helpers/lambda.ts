// Handlers as deployed, for tests: createHandler(deps) behind its edge exactly as lib/runtime/lambda.ts puts
// it (withEdge), with the test's logger and the constant Lambda context, minus configuration and secrets.
import type { Context } from 'aws-lambda';
import type { Logger } from '../../lib/kernel/logger.ts';
import { httpErrorBoundary, type HttpEvent, type HttpResult } from '../../lib/runtime/http.ts';
import { invokeErrorBoundary } from '../../lib/runtime/invoke.ts';
import { withEdge } from '../../lib/runtime/lambda.ts';
import { context } from './context.ts';

/** An HTTP function: its errors answered by the HTTP edge and logged to `logger`. */
export const httpFunction = (fn: (event: HttpEvent, context: Context) => Promise<HttpResult>, logger: Logger) => {
  const wrapped = withEdge(fn, httpErrorBoundary, { logger: () => logger, secretsStale: () => undefined });
  return (event: HttpEvent): Promise<HttpResult> => wrapped(event, context) as Promise<HttpResult>;
};

/** A directly invoked function: expected failures answered by the invoke edge, logged to `logger`. */
export const invokeFunction = <R>(fn: (event: unknown, context: Context) => Promise<R>, logger: Logger) => {
  const wrapped = withEdge(fn, invokeErrorBoundary<unknown, R>, { logger: () => logger, secretsStale: () => undefined });
  return (event: unknown): Promise<R> => wrapped(event, context) as Promise<R>;
};
