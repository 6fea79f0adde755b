// EventBridge rate(5 minutes) (and `sls invoke local -f refresh`): one refresh run. It refreshes the component
// token, then spreads the schedule's shards over REFRESH_WORKERS runs: it keeps the first group and starts the
// others as worker runs of this same function ({"refreshShards":[…],"dueBefore":…}, asynchronous invokes).
// Every run stops taking new accounts DEADLINE_SAFETY_MS before its Lambda timeout; whatever is left stays due.
// EventBridge rate(1 day) with {"reconcile":true}: the daily comparison with WeChat's authorizer list.
import type { Context, ScheduledEvent } from 'aws-lambda';
import { BadRequestError } from '../../lib/kernel/errors.ts';
import { createWeChatDeps } from '../../lib/runtime/wechat-deps.ts';
import { lambda } from '../../lib/runtime/lambda.ts';
import { lambdaStartRun, type StartRun } from '../../lib/runtime/self-invoke.ts';
import { runReconcile, type ReconcileSummary } from '../../lib/authorization/reconcile.ts';
import {
  ALL_SHARDS,
  DEADLINE_SAFETY_MS,
  runRefresh,
  type DueShard,
  type RefreshDeps,
  type RefreshSummary,
} from '../../lib/tokens/scheduled-refresh.ts';

type ReconcileEvent = { readonly reconcile: true };
/** A worker's part of a run, as the run that started it sends it. */
export type WorkerEvent = { readonly refreshShards: readonly DueShard[]; readonly dueBefore: number };

export interface RefreshHandler {
  (event: ScheduledEvent | WorkerEvent, context: Context): Promise<RefreshSummary>;
  (event: ReconcileEvent, context: Context): Promise<ReconcileSummary>;
}

/** The worker part of an event, checked: only the run that started it writes one, anything else is refused. */
const workerPart = (event: Partial<WorkerEvent>): { shards: readonly DueShard[]; dueBefore: number } | undefined => {
  if (event.refreshShards === undefined) return undefined;
  const shards = event.refreshShards;
  const known = Array.isArray(shards) && shards.length > 0 && shards.every((shard) => ALL_SHARDS.includes(shard));
  if (!known || new Set(shards).size !== shards.length)
    throw new BadRequestError('refreshShards must list distinct schedule shards (0-15, "unsharded")');
  const dueBefore = event.dueBefore;
  if (dueBefore === undefined || !Number.isInteger(dueBefore) || dueBefore < 0) throw new BadRequestError('dueBefore must be epoch seconds');
  return { shards, dueBefore };
};

export const createHandler = (deps: RefreshDeps, startRun: StartRun = lambdaStartRun(deps.config)): RefreshHandler =>
  (async (event: ScheduledEvent | WorkerEvent | ReconcileEvent, context: Context) => {
    const timeLeftMs = () => context.getRemainingTimeInMillis() - DEADLINE_SAFETY_MS;
    // Both summaries are logged by the service and returned, so `sls invoke local -f refresh` prints them.
    if ((event as ReconcileEvent).reconcile === true) return runReconcile(deps, { timeLeftMs });
    const worker = workerPart(event as Partial<WorkerEvent>);
    if (worker) return runRefresh(deps, { timeLeftMs, worker });
    return runRefresh(deps, {
      timeLeftMs,
      workers: deps.config.refreshWorkers,
      startWorker: (refreshShards, dueBefore) => startRun(context.functionName, { refreshShards, dueBefore } satisfies WorkerEvent),
    });
  }) as RefreshHandler;

export const handler = lambda(createWeChatDeps, createHandler);
