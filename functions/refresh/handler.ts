// EventBridge rate(5 minutes) (and `sls invoke local -f refresh`): one refresh run. The run stops taking new
// accounts DEADLINE_SAFETY_MS before the Lambda timeout; whatever is left stays due for the next run.
// EventBridge rate(1 day) with {"reconcile":true}: the daily comparison with WeChat's authorizer list.
import type { Context, ScheduledEvent } from 'aws-lambda';
import { createWeChatDeps } from '../../lib/runtime/wechat-deps.ts';
import { lambda } from '../../lib/runtime/lambda.ts';
import { runReconcile, type ReconcileSummary } from '../../lib/authorization/reconcile.ts';
import { DEADLINE_SAFETY_MS, runRefresh, type RefreshDeps, type RefreshSummary } from '../../lib/tokens/scheduled-refresh.ts';

type ReconcileEvent = { readonly reconcile: true };

export interface RefreshHandler {
  (event: ScheduledEvent, context: Context): Promise<RefreshSummary>;
  (event: ReconcileEvent, context: Context): Promise<ReconcileSummary>;
}

export const createHandler = (deps: RefreshDeps): RefreshHandler =>
  (async (event: ScheduledEvent | ReconcileEvent, context: Context) => {
    const timeLeftMs = () => context.getRemainingTimeInMillis() - DEADLINE_SAFETY_MS;
    // Both summaries are logged by the service and returned, so `sls invoke local -f refresh` prints them.
    if ((event as ReconcileEvent).reconcile === true) return runReconcile(deps, { timeLeftMs });
    return runRefresh(deps, { timeLeftMs });
  }) as RefreshHandler;

export const handler = lambda(createWeChatDeps, createHandler);
