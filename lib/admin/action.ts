// The shape of one operator action of the `admin` function (docs/architecture.md §7). Each capability exports
// its actions as plain functions of this type; lib/admin/actions.ts maps names to them. Input is the invoke
// payload without `action`, still unchecked: an action validates it and throws BadRequestError (a clear
// `{"error":{"type":"bad_request"}}` answer that changes nothing) before any write or WeChat call.
import type { WeChatDeps } from '../runtime/wechat-deps.ts';

export type ActionInput = Readonly<Record<string, unknown>>;
export type ActionOutput = Record<string, unknown>;
export type AdminAction = (deps: WeChatDeps, input: ActionInput) => Promise<ActionOutput>;
