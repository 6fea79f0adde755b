// Stream consumer of the table: EVENT items (authorization events from `ticket`, release-test tasks and
// reconcile requests from `message`) in batches, reported back with ReportBatchItemFailures (serverless.yml).
// Its schedule ({"retryFailures": true}, every minute) runs the due retries of failed events.
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { createWeChatDeps, type WeChatDeps } from '../../lib/runtime/wechat-deps.ts';
import { lambda } from '../../lib/runtime/lambda.ts';
import { imageRecords } from '../../lib/runtime/stream-records.ts';
import type { Metrics } from '../../lib/kernel/metrics.ts';
import { isPermanent, processEventRecords, RECORD_BUDGET_MS, workFor, type EventHandlers } from '../../lib/stream/dispatch.ts';
import { retryDueFailures, type RetrySummary } from '../../lib/stream/failures.ts';
import { EVENT_HANDLERS } from '../../lib/stream/handlers.ts';

type RetryEvent = { readonly retryFailures: true };

const isRetryEvent = (event: DynamoDBStreamEvent | RetryEvent): event is RetryEvent => (event as RetryEvent).retryFailures === true;

/** Without a context (tests) there is no deadline. */
type Deadline = Pick<Context, 'getRemainingTimeInMillis'> | undefined;
export interface AuthorizedHandler {
  (event: DynamoDBStreamEvent, context?: Deadline): Promise<DynamoDBBatchResponse>;
  (event: RetryEvent, context?: Deadline): Promise<RetrySummary>;
}

export const createHandler = (deps: WeChatDeps & { metrics?: Metrics }, handlers: EventHandlers<WeChatDeps> = EVENT_HANDLERS): AuthorizedHandler =>
  (async (event: DynamoDBStreamEvent | RetryEvent, context?: Deadline) => {
    const timeLeftMs = context ? () => context.getRemainingTimeInMillis() : undefined;
    const options = timeLeftMs ? { timeLeftMs } : {};
    if (isRetryEvent(event)) return retryDueFailures(deps, workFor(deps, handlers), isPermanent, { ...options, minTimeLeftMs: RECORD_BUDGET_MS });
    return processEventRecords(deps, handlers, imageRecords(event), options);
  }) as AuthorizedHandler;

export const handler = lambda(createWeChatDeps, createHandler);
