// The operator's function (docs/architecture.md §7), invoked directly (IAM): `{"action":"<name>", …}` → the
// action's JSON object. Expected failures come back as `{"error":{"type","message"}}`: a malformed payload or a
// BadRequestError from the action is `bad_request`, a name not in the registry `unknown_action` (listing the
// known ones). Anything else is thrown, so the invocation fails and the function's Errors alarm sees it.
import type { Context } from 'aws-lambda';
import type { AdminAction, ActionOutput } from '../../lib/admin/action.ts';
import { adminActions } from '../../lib/admin/actions.ts';
import { BadRequestError } from '../../lib/kernel/errors.ts';
import { lambda } from '../../lib/runtime/lambda.ts';
import { createWeChatDeps, type WeChatDeps } from '../../lib/runtime/wechat-deps.ts';

export type AdminReply = ActionOutput | { readonly error: { readonly type: string; readonly message: string } };

const failure = (type: string, message: string): AdminReply => ({ error: { type, message } });

export const createHandler =
  (deps: WeChatDeps, actions: Readonly<Record<string, AdminAction>> = adminActions) =>
  async (event: unknown, context?: Pick<Context, 'awsRequestId'>): Promise<AdminReply> => {
    const requestId = context?.awsRequestId;
    if (typeof event !== 'object' || event === null || Array.isArray(event) || typeof (event as { action?: unknown }).action !== 'string') {
      return failure('bad_request', 'the payload must be a JSON object with "action": the name of an operator action');
    }
    const { action, ...input } = event as { action: string } & Record<string, unknown>;
    const run = Object.hasOwn(actions, action) ? actions[action] : undefined;
    if (!run) {
      deps.logger.warn('admin.unknown_action', { action, requestId });
      return failure('unknown_action', `unknown action "${action}"; known actions: ${Object.keys(actions).sort().join(', ') || 'none'}`);
    }
    try {
      const output = await run(deps, input);
      deps.logger.info('admin.action_done', { action, requestId });
      return output;
    } catch (error) {
      if (!(error instanceof BadRequestError)) throw error;
      deps.logger.warn('admin.bad_request', { action, requestId }, error);
      return failure('bad_request', error.message);
    }
  };

export const handler = lambda(createWeChatDeps, (deps: WeChatDeps) => createHandler(deps));
