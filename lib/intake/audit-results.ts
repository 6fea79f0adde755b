// Audit result pushes at the message URL (weapp_audit_success / _fail / _delay, docs/fleet.md): recorded once as
// an EVENT item (kind audit_result) for the `authorized` function, which applies them to the rollout and reports
// them. Never handed to the message handlers, and never a WeChat call: verify, write once, answer `success`.
import type { Deps } from '../runtime/deps.ts';
import { recordEvent } from '../store/events.ts';
import type { EventMessage } from '../wechat/account-messages.ts';

export const recordAuditResultPush = async (deps: Deps, authorizerAppid: string, message: EventMessage): Promise<'recorded' | 'duplicate'> => {
  const result = await recordEvent(deps, {
    kind: 'audit_result',
    infoType: message.event,
    componentAppId: deps.config.componentAppId,
    authorizerAppid,
    createTime: message.createTime,
    payload: message.fields,
  });
  deps.logger.info(`audit_result.${result}`, { authorizerAppid, event: message.event, createTime: message.createTime });
  return result;
};
