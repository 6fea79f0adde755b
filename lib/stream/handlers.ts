// The handler of each EVENT kind the `authorized` function consumes, shared by the stream, the retry sweep and
// `redrive` (lib/stream/redrive.ts), so a replayed event runs exactly the code its first delivery ran.
import type { WeChatDeps } from '../runtime/wechat-deps.ts';
import { applyAuthorizationPush } from '../authorization/pushes.ts';
import { handleReconcileRequest } from '../authorization/reconcile.ts';
import { handleReleaseTestTask } from '../release-test/task.ts';
import { applyAuditResult } from '../fleet/audit-results.ts';
import type { EventHandlers } from './dispatch.ts';

export const EVENT_HANDLERS: EventHandlers<WeChatDeps> = {
  component_push: applyAuthorizationPush,
  release_test_task: handleReleaseTestTask,
  reconcile_request: handleReconcileRequest,
  audit_result: applyAuditResult,
};
