// The message URL of the accounts that authorized the component (消息与事件接收URL, docs/architecture.md §1 `message`):
// verify and decrypt with the component's token and key, refuse a message replayed from another account's URL,
// answer the release checks, and hand everything else, once, to the handler registry. Once verification passes
// the message is provably WeChat's, so it is answered whatever the state of the account it names
// (docs/architecture.md §8): an account this table does not hold as authorized is recorded (metric, log line, a
// reconcile request for it), never refused. It never calls WeChat, so the answer leaves well inside WeChat's 5 s
// window; nothing is written for a request that failed a check.
import { randomUUID } from 'node:crypto';
import { nowSeconds } from '../kernel/clock.ts';
import { DELIVERY_WAIT } from '../kernel/limits.ts';
import { waitFor, type WaitOptions } from '../kernel/wait.ts';
import type { Deps } from '../runtime/deps.ts';
import { RejectedRequestError } from '../kernel/errors.ts';
import { createMetrics, type Metrics } from '../kernel/metrics.ts';
import type { MessageHandlerRegistry } from './message-handlers.ts';
import { getAccountStatus, type AccountStatus } from '../store/authorizers.ts';
import { RECONCILE_REQUEST_WINDOW_S, recordReconcileRequest } from '../store/events.ts';
import { accountMessageEvent, isAnnounced } from '../events/message-events.ts';
import { claimMessage, finishMessage, forgetMessage, messageDedupeId, type MessageClaim, type MessageMarker } from '../store/deliveries.ts';
import { keysFrom, type MessageKeys } from '../wechat/crypto.ts';
import { AccountMessageError, auditResultOf, parseAccountMessage, type AccountMessage } from '../wechat/account-messages.ts';
import { recordAuditResultPush } from './audit-results.ts';
import { openReceived, readEnvelope, type PushQuery } from '../wechat/envelopes.ts';
import { buildReplyXml, sealReply, type ReplyBody } from '../wechat/replies.ts';
import { XmlError } from '../wechat/xml.ts';
import { isReleaseTestAccount, recordApiTextTask, releaseTestAction } from '../release-test/replies.ts';
import { isAppId } from '../wechat/ids.ts';

export type MessageDeps = Deps & { readonly metrics?: Metrics };
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

/**
 * The path's account must be the message's recipient: a message captured on one account's URL and replayed to
 * another's decrypts fine (one component key for all), but names the first account's gh_ id as ToUserName. An
 * account whose gh_ id is not stored yet (its info still on the way) is given the benefit of the doubt.
 */
const checkRecipient = (account: AccountStatus | undefined, message: AccountMessage): void => {
  if (account?.userName && account.userName !== message.toUserName) throw new RejectedRequestError('message.to_user.mismatch');
};

/** How the table knows the account a message names: `authorized`, another profile status, or none of them. */
export type AccountStanding = 'authorized' | 'release_test' | 'component' | 'unknown' | 'needs_reauth' | 'unauthorized' | 'no_refresh_token';

/**
 * The reconcile requests this container has seen stored (table and appid → the request window): an account in
 * needs_reauth whose users keep writing would otherwise cost a conditional write per message, refused as a
 * duplicate all hour. Only a cache of the table's own once-an-hour rule: a container without it writes once more.
 */
const requested = new Map<string, number>();
const REQUESTED_MAX = 10_000;

const requestReconcile = async (deps: MessageDeps, appid: string, reason: string): Promise<'recorded' | 'duplicate'> => {
  const now = nowSeconds(deps.clock);
  const key = `${deps.tableName}/${appid}`;
  const window = now - (now % RECONCILE_REQUEST_WINDOW_S);
  if (requested.get(key) === window) return 'duplicate';
  const result = await recordReconcileRequest(deps, { componentAppId: deps.config.componentAppId, authorizerAppid: appid, reason });
  if (requested.size >= REQUESTED_MAX) requested.clear();
  requested.set(key, window);
  return result;
};

/**
 * A verified message for an account the table does not hold as authorized: the table is behind WeChat (a push
 * not yet consumed, an authorization in the failure path, a revocation WeChat reversed) or the account left.
 * Counted, logged, and a reconcile of that account requested (at most once an hour); the answer does not depend
 * on the request, and a failed request write costs only the log line.
 */
const noteInactive = async (deps: MessageDeps, appid: string, standing: AccountStanding, message: AccountMessage): Promise<void> => {
  (deps.metrics ?? createMetrics({ clock: deps.clock })).put({ MessageForInactiveAccount: 1 }, { Status: standing });
  const fields = { authorizerAppid: appid, status: standing, msgType: message.msgType };
  if (standing === 'component') {
    deps.logger.info('message.for_component', fields);
    return;
  }
  const reconcile = await requestReconcile(deps, appid, `message_${standing}`).catch((error: unknown) => {
    deps.logger.error('message.reconcile_request_failed', fields, error);
    return 'failed' as const;
  });
  deps.logger.warn('message.account_not_authorized', { ...fields, reconcile });
};

/**
 * Release-test accounts are always ours. Any other account's message must name that account's gh_ id (a 4xx
 * otherwise); an account the table does not hold as authorized is noted (noteInactive), never refused.
 */
const checkAccount = async (deps: MessageDeps, appid: string, message: AccountMessage): Promise<AccountStatus | undefined> => {
  if (isReleaseTestAccount(appid)) return undefined;
  // WeChat's console sends its debug pushes (debug_demo) to the component's own appid.
  if (appid === deps.config.componentAppId) {
    await noteInactive(deps, appid, 'component', message);
    return undefined;
  }
  const account = await getAccountStatus(deps, appid);
  checkRecipient(account, message);
  const standing: AccountStanding = account?.status ?? 'unknown';
  if (standing !== 'authorized') await noteInactive(deps, appid, standing, message);
  return account;
};

const reply = (deps: Deps, keys: MessageKeys, message: AccountMessage, body: ReplyBody): MessageAnswer => {
  const createTime = nowSeconds(deps.clock);
  const inner = buildReplyXml({ toUser: message.fromUserName, fromUser: message.toUserName, createTime }, body);
  return { kind: 'reply', xml: sealReply(keys, inner, { timestamp: createTime }) };
};

const claimOrWait = async (deps: Deps, marker: MessageMarker, wait: WaitOptions): Promise<MessageClaim> => {
  const claim = async () => {
    const answer = await claimMessage(deps, marker);
    return answer === 'in_flight' ? undefined : answer;
  };
  return (await claim()) ?? (await waitFor(wait, claim)) ?? 'in_flight';
};

/**
 * Claims the delivery (with its `Account Message` event when configured, in the same write), runs the
 * registry's handler, marks it done. A failed handler drops the claim so WeChat's retry runs it again; a
 * handler that died leaves a claim that expires, and a later retry takes it over.
 */
const handOver = async (
  deps: Deps,
  registry: MessageHandlerRegistry,
  account: { readonly appid: string; readonly tenant?: string },
  message: AccountMessage,
  wait: WaitOptions,
): Promise<ReplyBody | undefined> => {
  const { appid } = account;
  const id = messageDedupeId(appid, message);
  const ids = { authorizerAppid: appid, msgType: message.msgType, dedupeId: id };
  const owner = randomUUID();
  const events = isAnnounced(deps.config.accountMessageEvents, message) ? [accountMessageEvent(deps, appid, account.tenant, message, id)] : [];
  const claim = await claimOrWait(deps, { id, authorizerAppid: appid, msgType: message.msgType, owner, events }, wait);
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
  registry: MessageHandlerRegistry,
  wait: WaitOptions = DELIVERY_WAIT,
): Promise<MessageAnswer> => {
  const appid = request.authorizerAppid ?? '';
  if (!isAppId(appid)) throw new RejectedRequestError('path.appid.malformed');
  const envelope = readEnvelope(request, request.body, { nowS: nowSeconds(deps.clock), maxSkewS: deps.config.pushMaxSkewS });
  // The trailing appid of every message on this URL is the component's, not the account's (docs/protocol.md §1.3).
  const keys = keysFrom(deps.secrets, deps.config.componentAppId);
  const message = parseVerified(openReceived(keys, envelope));
  const profile = await checkAccount(deps, appid, message);
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
  if (message.msgType === 'event' && auditResultOf(message)) {
    await recordAuditResultPush(deps, appid, message);
    return { kind: 'success' };
  }
  const body = await handOver(deps, registry, { appid, ...(profile?.tenant ? { tenant: profile.tenant } : {}) }, message, wait);
  return body ? reply(deps, keys, message, body) : { kind: 'success' };
};
