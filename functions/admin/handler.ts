// The operator's function (docs/architecture.md §7), invoked directly (IAM): `{"action":"<name>", …}` → the
// action's JSON object. Expected failures come back as `{"error":{"type","message"}}`: a malformed payload or a
// BadRequestError from the action is `bad_request`, a name not in the registry `unknown_action` (listing the
// known ones); a WeChat API failure `wechat_error` with its errcode, and the other expected failures their own
// type (lib/runtime/invoke.ts). Anything else is thrown, so the invocation fails and the function's Errors alarm sees it.
import type { Context } from 'aws-lambda';
import type { AdminAction, ActionOutput } from '../../lib/admin/action.ts';
import { adminActions } from '../../lib/admin/actions.ts';
import { invokeFailure, type InvokeFailure } from '../../lib/runtime/invoke.ts';
import { lambda } from '../../lib/runtime/lambda.ts';
import { createWeChatDeps, type WeChatDeps } from '../../lib/runtime/wechat-deps.ts';

export type AdminReply = ActionOutput | { readonly error: InvokeFailure };

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
      const expected = invokeFailure(error);
      if (!expected) throw error;
      deps.logger.warn('admin.action_failed', { action, requestId, type: expected.type, errcode: expected.errcode }, error);
      return { error: expected };
    }
  };

export const handler = lambda(createWeChatDeps, (deps: WeChatDeps) => createHandler(deps));
