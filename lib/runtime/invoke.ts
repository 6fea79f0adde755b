// The invoke edge (`token`, `admin`): which failures are answers and how they read. Expected failures come back
// as `{"error":{"type","message"[,"errcode","api"]}}` (docs/architecture.md §8); a WeChat API failure is one of
// them (the caller decides: 45009 quota, 61004 IP whitelist, -1 busy), with its errcode. Anything else is a bug
// or an outage and is thrown, so the invocation fails and the function's Errors alarm sees it.
import { AppError, BadRequestError } from '../kernel/errors.ts';
import { WeChatApiError, WeChatNetworkError, WeChatProtocolError } from '../wechat/errors.ts';

export interface InvokeFailure {
  readonly type: string;
  readonly message: string;
  /** WeChat's errcode, for `wechat_error`. */
  readonly errcode?: number;
  /** The WeChat API that failed, below /cgi-bin/. */
  readonly api?: string;
}

/** An AppError that names its own answer type (the token service's typed errors). */
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
