// The `audit_result` handler of the `authorized` function (docs/fleet.md): an audit result push, recorded once by
// the message function, is applied to the rollout that submitted the mini program's current audit and reported
// as `Mini Program Audit Succeeded/Failed/Delayed`, both in one transaction. The rollout's own step then moves the
// account's stage (and releases), from the item's change on the stream. A result no rollout is waiting for (an
// audit submitted by hand, a late duplicate) is still reported.
import type { WeChatDeps } from '../runtime/wechat-deps.ts';
import type { StoredEvent } from '../store/events.ts';
import { auditResultTarget } from '../store/rollout-targets.ts';
import { putEvents } from '../store/outbox.ts';
import { recordAccountAudit } from '../store/rollouts.ts';
import { PermanentEventError } from '../stream/dispatch.ts';
import { accountMessageFromXml, AccountMessageError, auditResultOf, type AuditResult } from '../wechat/account-messages.ts';
import { auditEvent } from './events.ts';

const readResult = (event: StoredEvent): { appid: string; result: AuditResult } => {
  const appid = event.authorizerAppid;
  if (!appid) throw new PermanentEventError('audit result without the account it was sent to');
  let result: AuditResult | undefined;
  try {
    result = auditResultOf(accountMessageFromXml(event.payload));
  } catch (error) {
    if (error instanceof AccountMessageError) throw new PermanentEventError(`audit result with a malformed ${error.field}`, { cause: error });
    throw error;
  }
  if (!result) throw new PermanentEventError(`${event.infoType} is not an audit result`);
  return { appid, result };
};

export const applyAuditResult = async (deps: WeChatDeps, event: StoredEvent): Promise<void> => {
  const { appid, result } = readResult(event);
  const { rolloutId, tenant } = await auditResultTarget(deps, appid);
  const report = auditEvent(deps, {
    pushId: event.id,
    authorizerAppid: appid,
    result,
    ...(rolloutId ? { rolloutId } : {}),
    ...(tenant ? { tenant } : {}),
    occurredAt: deps.clock(),
  });
  const applied = rolloutId ? await recordAccountAudit(deps, { rolloutId, authorizerAppid: appid }, result, [report]) : false;
  if (!applied) await putEvents(deps, [report]);
  deps.logger.info('rollout.audit_result', { authorizerAppid: appid, rolloutId, outcome: result.outcome, applied });
};
