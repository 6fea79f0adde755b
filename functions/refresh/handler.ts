// EventBridge rate(5 minutes) (and `sls invoke local -f refresh`): one refresh run. The run stops taking new
// accounts DEADLINE_SAFETY_MS before the Lambda timeout; whatever is left stays due for the next run.
import type { Context, ScheduledEvent } from 'aws-lambda';
import { createWeChatDeps } from '../../lib/runtime/wechat-deps.ts';
import { lambda } from '../../lib/runtime/lambda.ts';
import { DEADLINE_SAFETY_MS, runRefresh, type RefreshDeps, type RefreshSummary } from '../../lib/tokens/scheduled-refresh.ts';

export const createHandler =
  (deps: RefreshDeps) =>
  async (_event: ScheduledEvent, context: Context): Promise<RefreshSummary> =>
    // The summary is logged by the service and returned, so `sls invoke local -f refresh` prints it.
    runRefresh(deps, { timeLeftMs: () => context.getRemainingTimeInMillis() - DEADLINE_SAFETY_MS });

export const handler = lambda(createWeChatDeps, createHandler);
