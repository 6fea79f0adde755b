// The edge of the directly invoked functions (`token`, `admin`, `login`): the only place their errors become
// answers (docs/style.md §16). Expected failures come back as `{"error":{"type","message"[,"errcode","api"]}}`
// (docs/architecture.md §8): a bad request, an ExpectedError with its stable `type`, or a WeChat API failure with
// its errcode (the caller decides: 45009 quota, 61004 IP whitelist, -1 busy). Anything else is a bug or an outage
// and is rethrown, so Lambda reports a function error and the Errors alarm sees it.
import type { MiddlewareObj } from '@middy/core';
import { AppError, BadRequestError } from '../kernel/errors.ts';
import { WeChatApiError, WeChatNetworkError, WeChatProtocolError } from '../wechat/errors.ts';
import type { EdgeContext } from './lambda.ts';

/** The `error` of an expected failure's answer. */
export interface InvokeFailure {
  readonly type: string;
  readonly message: string;
  /** WeChat's errcode, for `wechat_error`. */
  readonly errcode?: number;
  /** The WeChat API that failed, below /cgi-bin/. */
  readonly api?: string;
}

/** An AppError that names its own answer type (ExpectedError and the token service's typed errors). */
const typeOf = (error: AppError): string | undefined => {
  const type = (error as { type?: unknown }).type;
  return typeof type === 'string' && type !== '' ? type : undefined;
};

/** The answer for an expected failure; undefined for anything that must be thrown. */
export const invokeFailure = (error: unknown): InvokeFailure | undefined => {
  if (error instanceof WeChatApiError) return { type: 'wechat_error', message: error.message, errcode: error.errcode, api: error.api };
  if (error instanceof WeChatNetworkError) return { type: 'wechat_unreachable', message: error.message, api: error.api };
  if (error instanceof WeChatProtocolError) return { type: 'wechat_protocol_error', message: error.message, api: error.api };
  if (!(error instanceof AppError)) return undefined;
  const type = typeOf(error) ?? (error instanceof BadRequestError ? 'bad_request' : undefined);
  return type ? { type, message: error.message } : undefined;
};

/** The whole answer for an expected failure, `{"error":…}`; undefined for anything else. */
export const invokeFailureOf = (error: unknown): { readonly error: InvokeFailure } | undefined => {
  const failure = invokeFailure(error);
  return failure ? { error: failure } : undefined;
};

/** Answers expected failures as `{"error":…}`; the handler's result type R must include that answer. */
export const invokeErrorBoundary = <E, R>({ logger }: EdgeContext): MiddlewareObj<E, R> => ({
  onError: (request) => {
    const failure = invokeFailureOf(request.error);
    if (!failure) return;
    logger().warn(
      'invoke.failed',
      { type: failure.error.type, errcode: failure.error.errcode, requestId: request.context?.awsRequestId },
      request.error,
    );
    request.response = failure as R;
  },
});
