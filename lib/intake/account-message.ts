// The message URL of the accounts that authorized the component (消息与事件接收URL, DESIGN.md §1 `message`):
// verify and decrypt with the component's token and key, answer the release checks, and hand everything else,
// once, to the handler registry. Once verification passes the message is provably WeChat's, so it is answered
// whatever the state of the account it names (docs/architecture.md §8): an account this table does not hold as
// authorized is recorded (metric, log line, a reconcile request for it), never refused. It never calls WeChat,
// so the answer leaves well inside WeChat's 5 s window; nothing is written for a request that failed a check.
import { randomUUID } from 'node:crypto';
import { nowSeconds, sleep } from '../kernel/clock.ts';
import type { Deps } from '../runtime/deps.ts';
import { RejectedRequestError } from '../kernel/errors.ts';
import { createMetrics, type Metrics } from '../kernel/metrics.ts';
import { messageHandlers, type MessageHandlerRegistry } from './message-handlers.ts';
import { getAuthorizer } from '../store/authorizers.ts';
import { recordReconcileRequest } from '../store/events.ts';
import { claimMessage, finishMessage, forgetMessage, messageDedupeId, type MessageClaim, type MessageMarker } from '../store/deliveries.ts';
import { keysFrom, type MessageKeys } from '../wechat/crypto.ts';
import { AccountMessageError, parseAccountMessage, type AccountMessage } from '../wechat/account-messages.ts';
import { openReceived, readEnvelope, type PushQuery } from '../wechat/envelopes.ts';
import { buildReplyXml, sealReply, type ReplyBody } from '../wechat/replies.ts';
import { XmlError } from '../wechat/xml.ts';
import { isReleaseTestAccount, recordApiTextTask, releaseTestAction } from '../release-test/replies.ts';
import { isAppId } from '../wechat/ids.ts';

export type MessageDeps = Pick<Deps, 'doc' | 'tableName' | 'clock' | 'logger' | 'config' | 'secrets'> & { readonly metrics?: Metrics };

export interface MessageRequest extends PushQuery {
  /** The `{appid}` path parameter: the account the message was sent to. */
  readonly authorizerAppid: string | undefined;
  readonly body: Buffer;
}

/** `reply`: an encrypted passive reply XML; `empty`: the empty body; `success`: the literal `success`. */
export type MessageAnswer = { readonly kind: 'reply'; readonly xml: string } | { readonly kind: 'empty' } | { readonly kind: 'success' };

const parseVerified = (plain: string): AccountMessage => {
  try {
    return parseAccountMessage(plain);
  } catch (error) {
    if (error instanceof AccountMessageError) throw new RejectedRequestError(`message.${error.field}.invalid`, { cause: error });
    if (error instanceof XmlError) throw new RejectedRequestError(`message.xml.${error.reason}`, { cause: error });
    throw error;
  }
};

/** How the table knows the account a message names: `authorized`, another profile status, or none of them. */
export type AccountStanding = 'authorized' | 'release_test' | 'component' | 'unknown' | 'needs_reauth' | 'unauthorized' | 'no_refresh_token';

const standingOf = async (deps: MessageDeps, appid: string): Promise<AccountStanding> => {
  if (isReleaseTestAccount(appid)) return 'release_test';
  // WeChat's console sends its debug pushes (debug_demo) to the component's own appid.
  if (appid === deps.config.componentAppId) return 'component';
  return (await getAuthorizer(deps, appid))?.status ?? 'unknown';
};

/**
 * A verified message for an account the table does not hold as authorized: the table is behind WeChat (a push
 * not yet consumed, an authorization in the failure path, a revocation WeChat reversed) or the account left.
 * Counted, logged, and a reconcile of that account requested (at most once an hour); the answer never waits
 * on the request, and a failed request write costs only the log line.
 */
const noteInactive = async (deps: MessageDeps, appid: string, standing: AccountStanding, message: AccountMessage): Promise<void> => {
  (deps.metrics ?? createMetrics({ clock: deps.clock })).put({ MessageForInactiveAccount: 1 }, { Status: standing });
  const fields = { authorizerAppid: appid, status: standing, msgType: message.msgType };
  if (standing === 'component') {
    deps.logger.info('message.for_component', fields);
    return;
  }
  const reconcile = await recordReconcileRequest(deps, {
    componentAppId: deps.config.componentAppId,
    authorizerAppid: appid,
    reason: `message_${standing}`,
  }).catch((error: unknown) => {
    deps.logger.error('message.reconcile_request_failed', fields, error);
    return 'failed' as const;
  });
  deps.logger.warn('message.account_not_authorized', { ...fields, reconcile });
};

const reply = (deps: MessageDeps, keys: MessageKeys, message: AccountMessage, body: ReplyBody): MessageAnswer => {
  const createTime = nowSeconds(deps.clock);
  const inner = buildReplyXml({ toUser: message.fromUserName, fromUser: message.toUserName, createTime }, body);
  return { kind: 'reply', xml: sealReply(keys, inner, { timestamp: createTime }) };
};

/** How a retry that finds the delivery in flight waits for that attempt to finish, or for its claim to expire. */
export interface InFlightWait {
  readonly waitMs: number;
  readonly pollMs: number;
}
// Past WeChat's 5 s: while we wait, WeChat gives up on this attempt and sends its next one, so a delivery whose
// first handler died is still handled (by whichever attempt finds the claim expired). Within the 10 s timeout.
const IN_FLIGHT_WAIT: InFlightWait = { waitMs: 7_000, pollMs: 250 };

const claimOrWait = async (deps: MessageDeps, marker: MessageMarker, wait: InFlightWait): Promise<MessageClaim> => {
  for (let polls = Math.ceil(wait.waitMs / wait.pollMs); ; polls -= 1) {
    const claim = await claimMessage(deps, marker);
    if (claim !== 'in_flight' || polls <= 0) return claim;
    await sleep(wait.pollMs);
  }
};

/**
 * Claims the delivery, runs the registry's handler, marks it done. A failed handler drops the claim so WeChat's
 * retry runs it again; a handler that died leaves a claim that expires, and a later retry takes it over.
 */
const handOver = async (
  deps: MessageDeps,
  registry: MessageHandlerRegistry,
  appid: string,
  message: AccountMessage,
  wait: InFlightWait,
): Promise<ReplyBody | undefined> => {
  const id = messageDedupeId(appid, message);
  const ids = { authorizerAppid: appid, msgType: message.msgType, dedupeId: id };
  const owner = randomUUID();
  const claim = await claimOrWait(deps, { id, authorizerAppid: appid, msgType: message.msgType, owner }, wait);
  if (claim !== 'claimed') {
    deps.logger.info(claim === 'done' ? 'message.duplicate' : 'message.in_flight', ids);
    return undefined;
  }
  let body: ReplyBody | undefined;
  try {
    body = (await registry.handlerFor(message)(message, { authorizerAppid: appid, logger: deps.logger })) ?? undefined;
  } catch (error) {
    await forgetMessage(deps, id, owner).catch((e: unknown) => deps.logger.error('message.forget_failed', ids, e));
    throw error;
  }
  // Handled: answer it. If the mark fails, the claim expires and a retry could run the handler again (logged).
  await finishMessage(deps, id).catch((e: unknown) => deps.logger.error('message.finish_failed', ids, e));
  return body;
};

/**
 * Handles one delivery to an account's message URL. Throws RejectedRequestError for anything that is not a
 * genuine message from WeChat for this component; a genuine one is answered whatever its account's state.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/operation/thirdparty/releases_instructions.html
 */
export const handleAccountMessage = async (
  deps: MessageDeps,
  request: MessageRequest,
  registry: MessageHandlerRegistry = messageHandlers,
  wait: InFlightWait = IN_FLIGHT_WAIT,
): Promise<MessageAnswer> => {
  const appid = request.authorizerAppid ?? '';
  if (!isAppId(appid)) throw new RejectedRequestError('path.appid.malformed');
  const envelope = readEnvelope(request, request.body, { nowS: nowSeconds(deps.clock), maxSkewS: deps.config.pushMaxSkewS });
  // The trailing appid of every message on this URL is the component's, not the account's (PROTOCOL.md §1.3).
  const keys = keysFrom(deps.secrets, deps.config.componentAppId);
  const message = parseVerified(openReceived(keys, envelope));
  const standing = await standingOf(deps, appid);
  if (standing !== 'authorized' && standing !== 'release_test') await noteInactive(deps, appid, standing, message);
  const action = releaseTestAction(appid, message);
  if (action?.case === 'api_text') {
    const { result, eventId } = await recordApiTextTask(deps, {
      componentAppId: deps.config.componentAppId,
      authorizerAppid: appid,
      toUser: message.fromUserName,
      queryAuthCode: action.queryAuthCode,
      createTime: message.createTime,
    });
    deps.logger.info(`release_test.api_text.${result}`, { authorizerAppid: appid, eventId });
    return { kind: 'empty' };
  }
  if (action) {
    deps.logger.info(`release_test.${action.case}.replied`, { authorizerAppid: appid });
    return reply(deps, keys, message, action.reply);
  }
  const body = await handOver(deps, registry, appid, message, wait);
  return body ? reply(deps, keys, message, body) : { kind: 'success' };
};
