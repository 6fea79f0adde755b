// The authorization-event URL (docs/architecture.md §1, `ticket`): verify, decrypt, dispatch on InfoType, write once,
// answer. It never calls WeChat, so it stays far inside WeChat's 5 s window, and it writes nothing for a
// push that failed any check: every write below happens only after the signature, the decryption, the
// trailing appid and the inner AppId all matched this component.
import { nowSeconds } from '../kernel/clock.ts';
import type { Deps } from '../runtime/deps.ts';
import { RejectedRequestError } from '../kernel/errors.ts';
import { protectSecret } from '../kernel/logger.ts';
import { eventId, recordEvent } from '../store/events.ts';
import { saveVerifyTicket } from '../store/tickets.ts';
import { keysFrom } from '../wechat/crypto.ts';
import {
  isAuthEvent,
  ComponentPushError,
  parseComponentPush,
  subjectAppid,
  type AuthEventPush,
  type ComponentPush,
} from '../wechat/component-pushes.ts';
import { openReceived, readEnvelope, type PushQuery } from '../wechat/envelopes.ts';
import { XmlError } from '../wechat/xml.ts';

export interface PushRequest extends PushQuery {
  /** The raw request body, as received. */
  readonly body: Buffer;
}

export interface PushOutcome {
  /** The push's InfoType as WeChat sent it. */
  readonly infoType: string;
  readonly result: 'saved' | 'stale' | 'recorded' | 'duplicate' | 'ignored';
}

const parseVerified = (plain: string): ComponentPush => {
  try {
    return parseComponentPush(plain);
  } catch (error) {
    if (error instanceof ComponentPushError) throw new RejectedRequestError(`message.${error.field}.${error.problem}`, { cause: error });
    if (error instanceof XmlError) throw new RejectedRequestError(`message.xml.${error.reason}`, { cause: error });
    throw error;
  }
};

/** Registers every credential a push carries, so none can reach a log line. */
const protect = (message: ComponentPush): void => {
  if (message.infoType === 'component_verify_ticket') protectSecret(message.componentVerifyTicket);
  if (message.infoType === 'authorized' || message.infoType === 'updateauthorized') {
    protectSecret(message.authorizationCode);
    protectSecret(message.preAuthCode);
  }
  if (message.infoType === 'notify_third_fasteregister') protectSecret(message.authCode);
};

const recordAuthEvent = async (deps: Deps, message: AuthEventPush): Promise<PushOutcome> => {
  const event = {
    kind: 'component_push' as const,
    infoType: message.infoType,
    componentAppId: message.appId,
    authorizerAppid: subjectAppid(message),
    createTime: message.createTime,
    payload: message.fields,
  };
  const result = await recordEvent(deps, event);
  deps.logger.info(`component_event.${result}`, {
    infoType: event.infoType,
    componentAppId: event.componentAppId,
    authorizerAppid: event.authorizerAppid,
    createTime: event.createTime,
    eventId: eventId(event),
  });
  return { infoType: message.infoType, result };
};

/**
 * Handles one push to the authorization-event URL; resolves once its write is durable.
 * Throws RejectedRequestError for anything that is not a genuine push for this component.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/authorize_event.html
 */
export const receiveComponentPush = async (deps: Deps, request: PushRequest): Promise<PushOutcome> => {
  const componentAppId = deps.config.componentAppId;
  const envelope = readEnvelope(request, request.body, { nowS: nowSeconds(deps.clock), maxSkewS: deps.config.pushMaxSkewS });
  if (envelope.appId !== undefined && envelope.appId !== componentAppId) throw new RejectedRequestError('envelope.AppId.mismatch');
  const message = parseVerified(openReceived(keysFrom(deps.secrets, componentAppId), envelope));
  protect(message);
  if (message.appId !== componentAppId) throw new RejectedRequestError('message.AppId.mismatch');
  if (message.infoType === 'component_verify_ticket') {
    const { createTime } = message;
    const result = await saveVerifyTicket(deps, { componentAppId, ticket: message.componentVerifyTicket, createTime });
    deps.logger.info(`verify_ticket.${result}`, { componentAppId, createTime });
    return { infoType: message.infoType, result };
  }
  if (isAuthEvent(message)) return recordAuthEvent(deps, message);
  deps.logger.info('component_push.unhandled', { infoType: message.rawInfoType, componentAppId, createTime: message.createTime });
  return { infoType: message.rawInfoType, result: 'ignored' };
};
