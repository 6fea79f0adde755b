// The API-text release check (docs/protocol.md §2 case 4), second half: the `message` function answered WeChat
// with an empty body and recorded a task; the `authorized` function takes it from the stream, exchanges the
// query_auth_code (once per code, shared with the authorization push: codes are single-use), and sends the
// customer-service text `<code>_from_api` to the test user right away, with the exchange's own token, before
// anything else calls WeChat; the authorization is stored and the account's info fetched after it.
import { CODE_EXCHANGE_WAIT_MS } from '../kernel/limits.ts';
import type { WeChatDeps } from '../runtime/wechat-deps.ts';
import { protectSecret } from '../kernel/logger.ts';
import { CODE_TTL_S } from '../store/codes.ts';
import type { StoredEvent } from '../store/events.ts';
import { isTokenInvalid } from '../wechat/errors.ts';
import {
  AuthorizationCodeError,
  ensureAccountInfo,
  exchangeForCompletion,
  IncompleteAuthorizationError,
  storeExchanged,
} from '../authorization/exchange.ts';
import { PermanentEventError } from '../stream/dispatch.ts';
import { apiTextContent, QUERY_AUTH_CODE_TASK } from './replies.ts';
import { withAuthorizerToken } from '../tokens/authorizer-token.ts';

interface ApiTextTask {
  readonly authorizerAppid: string;
  readonly toUser: string;
  readonly queryAuthCode: string;
}

const readTask = (event: StoredEvent): ApiTextTask => {
  if (event.infoType !== QUERY_AUTH_CODE_TASK) throw new PermanentEventError(`unknown release-test task ${event.infoType}`);
  const { authorizerAppid, toUser, queryAuthCode } = event.payload;
  if (!authorizerAppid || !toUser || !queryAuthCode)
    throw new PermanentEventError('release-test task without authorizerAppid, toUser or queryAuthCode');
  protectSecret(queryAuthCode);
  return { authorizerAppid, toUser, queryAuthCode };
};

/**
 * Sends with the exchange's own token (the one WeChat's check hands out): 'sent', 'no_token' when there is none
 * or WeChat rejects it, or the error of a send that failed otherwise (raised once the authorization is stored).
 */
const sendWithToken = async (
  token: string | undefined,
  send: (token: string) => Promise<void>,
): Promise<'sent' | 'no_token' | { error: unknown }> => {
  if (!token) return 'no_token';
  try {
    await send(token);
    return 'sent';
  } catch (error) {
    return isTokenInvalid(error) ? 'no_token' : { error };
  }
};

/**
 * The `release_test_task` handler of the `authorized` function.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/operation/thirdparty/releases_instructions.html
 */
export const handleReleaseTestTask = async (deps: WeChatDeps, event: StoredEvent): Promise<void> => {
  const task = readTask(event);
  const log = deps.logger.child({ eventId: event.id, authorizerAppid: task.authorizerAppid });
  // The code is an authorization like any other: store it (once, shared with the push for the same code), so
  // its refresh token is kept even if no `authorized` push ever carries this code. The code is valid for an
  // hour after WeChat issued it; the message's CreateTime is the closest we know.
  const request = { authorizationCode: task.queryAuthCode, codeExpiresAt: event.createTime + CODE_TTL_S, waitMs: CODE_EXCHANGE_WAIT_MS };
  const exchanged = await exchangeForCompletion(deps, request).catch((error: unknown) => {
    // A refused code stays refused: drop the task rather than retry it.
    if (error instanceof AuthorizationCodeError || error instanceof IncompleteAuthorizationError)
      throw new PermanentEventError(error.message, { cause: error });
    throw error;
  });
  const appid = exchanged.authorization.authorizerAppid;
  if (appid !== task.authorizerAppid) throw new PermanentEventError(`the query_auth_code belongs to ${appid}, not ${task.authorizerAppid}`);
  const send = (token: string) => deps.wechat.sendCustomText(token, { toUser: task.toUser, content: apiTextContent(task.queryAuthCode) });
  // First, while WeChat's check waits for it: the exchange result is already cached on the code, so nothing is lost.
  const exchangeToken = exchanged.authorization.authorizerAccessToken;
  const first = await sendWithToken(exchangeToken, send);
  const outcome = await storeExchanged(deps, request, exchanged);
  if (typeof first === 'object') throw first.error;
  if (first === 'no_token') {
    // A cached exchange may hold a token since replaced, or none at all: the account's stored token then serves.
    log.warn('release_test.api_text.stored_token', { because: exchangeToken ? 'exchange_token_rejected' : 'no_exchange_token' });
    await withAuthorizerToken(deps, task.authorizerAppid, send);
  }
  log.info('release_test.api_text.sent');
  // Not worth a retry that would send the text again: a later authorization or refetch fills the info in.
  await ensureAccountInfo(deps, appid, outcome).catch((error: unknown) => log.warn('release_test.account_info_failed', {}, error));
};
