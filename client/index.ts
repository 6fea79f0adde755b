// A typed client for the operator's own services (README "Using it from your services"): tokens from the
// platform's `token` function and actions of its `admin` function, by direct Lambda invoke. It depends on
// @aws-sdk/client-lambda alone, so it can be copied into, or bundled with, any Node Lambda.
//  - `{"error":{…}}` answers become typed errors (AccountNeedsReauthError, WeChatError with the errcode, …);
//  - `busy` (another caller is refreshing that token right now) is retried with jittered exponential backoff;
//  - tokens are cached in memory until shortly before their expiresAt, and concurrent callers in one process
//    share one invoke. The cache is only an optimisation: the platform itself never hands out a stale token.
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';

export interface PlatformToken {
  readonly accessToken: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
}

export type AdminOutput = Record<string, unknown>;

/** Any `{"error"}` answer; `type` is the platform's (docs/architecture.md §8), `errcode` WeChat's when there is one. */
export class PlatformError extends Error {
  readonly type: string;
  readonly errcode: number | undefined;
  readonly api: string | undefined;
  constructor(type: string, message: string, details: { errcode?: number; api?: string } = {}) {
    super(message);
    this.name = new.target.name;
    this.type = type;
    this.errcode = details.errcode;
    this.api = details.api;
  }
}
/** The request was malformed (`bad_request`) or named no action (`unknown_action`). */
export class PlatformBadRequestError extends PlatformError {}
/** The account never authorized the platform (`not_found`). */
export class AccountNotFoundError extends PlatformError {}
/** The account revoked its authorization (`unauthorized`). */
export class AccountUnauthorizedError extends PlatformError {}
/** The account's refresh token is lost (`needs_reauth`): its owner must authorize again. */
export class AccountNeedsReauthError extends PlatformError {}
/** Another caller is refreshing this token (`busy`), still so after the client's retries. */
export class PlatformBusyError extends PlatformError {}
/** No usable component_verify_ticket (`missing_ticket`, `ticket_invalid`): see the operations runbook. */
export class ComponentTicketError extends PlatformError {}
/** WeChat refused or did not answer (`wechat_error` with errcode and api, `wechat_unreachable`, `wechat_protocol_error`). */
export class WeChatError extends PlatformError {}
/** The invocation itself failed (a function error, no answer): an outage or a bug, not an answer. */
export class PlatformInvokeError extends PlatformError {}

const ERRORS: Record<string, typeof PlatformError> = {
  bad_request: PlatformBadRequestError,
  unknown_action: PlatformBadRequestError,
  not_found: AccountNotFoundError,
  unauthorized: AccountUnauthorizedError,
  needs_reauth: AccountNeedsReauthError,
  busy: PlatformBusyError,
  missing_ticket: ComponentTicketError,
  ticket_invalid: ComponentTicketError,
  wechat_error: WeChatError,
  wechat_unreachable: WeChatError,
  wechat_protocol_error: WeChatError,
};

export interface PlatformClientOptions {
  /** The deployed stage: functions are `wechat-component-<stage>-token` / `-admin` (default `prod`). */
  readonly stage?: string;
  readonly tokenFunction?: string;
  readonly adminFunction?: string;
  /** Default: a LambdaClient from the environment (region and credentials of the calling Lambda). */
  readonly lambda?: Pick<LambdaClient, 'send'>;
  /** Reuse a cached token until this many seconds before it expires (default 300). */
  readonly marginS?: number;
  /** Attempts for a `busy` answer (default 5), waiting up to retryBaseMs · 2^n between them (default 250 ms). */
  readonly busyAttempts?: number;
  readonly retryBaseMs?: number;
  /** Epoch ms; tests move time. */
  readonly clock?: () => number;
}

export interface PlatformClient {
  getComponentToken(): Promise<PlatformToken>;
  getAuthorizerToken(authorizerAppid: string): Promise<PlatformToken>;
  admin(action: string, input?: Record<string, unknown>): Promise<AdminOutput>;
  /** Forgets the cached tokens (e.g. after WeChat answered 40001 for one). */
  forget(authorizerAppid?: string): void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const toError = (error: { type?: unknown; message?: unknown; errcode?: unknown; api?: unknown }): PlatformError => {
  const type = typeof error.type === 'string' ? error.type : 'unknown';
  const Typed = ERRORS[type] ?? PlatformError;
  const details = {
    ...(typeof error.errcode === 'number' ? { errcode: error.errcode } : {}),
    ...(typeof error.api === 'string' ? { api: error.api } : {}),
  };
  return new Typed(type, typeof error.message === 'string' ? error.message : type, details);
};

export const createPlatformClient = (options: PlatformClientOptions = {}): PlatformClient => {
  const stage = options.stage ?? 'prod';
  const tokenFunction = options.tokenFunction ?? `wechat-component-${stage}-token`;
  const adminFunction = options.adminFunction ?? `wechat-component-${stage}-admin`;
  const lambda = options.lambda ?? new LambdaClient({});
  const clock = options.clock ?? Date.now;
  const marginS = options.marginS ?? 300;
  const busyAttempts = Math.max(1, options.busyAttempts ?? 5);
  const retryBaseMs = options.retryBaseMs ?? 250;
  const cache = new Map<string, PlatformToken>();
  const inflight = new Map<string, Promise<PlatformToken>>();

  const invoke = async (functionName: string, payload: unknown): Promise<Record<string, unknown>> => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(payload)) }));
    const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
    if (out.FunctionError) throw new PlatformInvokeError('function_error', `${functionName} failed (${out.FunctionError}): ${text.slice(0, 500)}`);
    const answer: unknown = text ? JSON.parse(text) : undefined;
    if (typeof answer !== 'object' || answer === null || Array.isArray(answer))
      throw new PlatformInvokeError('no_answer', `${functionName} answered no object`);
    const { error } = answer as { error?: Record<string, unknown> };
    if (error && typeof error === 'object') throw toError(error);
    return answer as Record<string, unknown>;
  };

  const fetchToken = async (payload: Record<string, string>): Promise<PlatformToken> => {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const answer = await invoke(tokenFunction, payload);
        if (typeof answer.accessToken !== 'string' || typeof answer.expiresAt !== 'number')
          throw new PlatformInvokeError('no_answer', 'no token in the answer');
        return { accessToken: answer.accessToken, expiresAt: answer.expiresAt };
      } catch (error) {
        if (!(error instanceof PlatformBusyError) || attempt >= busyAttempts) throw error;
        await sleep(Math.round(Math.random() * retryBaseMs * 2 ** (attempt - 1)));
      }
    }
  };

  const token = (key: string, payload: Record<string, string>): Promise<PlatformToken> => {
    const cached = cache.get(key);
    if (cached && cached.expiresAt - marginS > clock() / 1000) return Promise.resolve(cached);
    const running = inflight.get(key);
    if (running) return running;
    const fresh = fetchToken(payload)
      .then((t) => {
        cache.set(key, t);
        return t;
      })
      .finally(() => inflight.delete(key));
    inflight.set(key, fresh);
    return fresh;
  };

  return {
    getComponentToken: () => token('', {}),
    getAuthorizerToken: (authorizerAppid) => token(authorizerAppid, { authorizerAppid }),
    admin: (action, input = {}) => invoke(adminFunction, { ...input, action }),
    forget: (authorizerAppid) => (authorizerAppid === undefined ? cache.clear() : cache.delete(authorizerAppid)),
  };
};
