// The API-text release check (docs/protocol.md §2 case 4), second half: the `message` function answered WeChat
// with an empty body and recorded a task; the `authorized` function takes it from the stream, exchanges the
// query_auth_code (once per code, shared with the authorization push: codes are single-use), and sends the
// customer-service text `<code>_from_api` to the test user with that account's access token.
import { CODE_EXCHANGE_WAIT_MS } from '../kernel/limits.ts';
import type { WeChatDeps } from '../runtime/wechat-deps.ts';
import { protectSecret } from '../kernel/logger.ts';
import { CODE_TTL_S } from '../store/codes.ts';
import type { StoredEvent } from '../store/events.ts';
import { isTokenInvalid } from '../wechat/errors.ts';
import { AuthorizationCodeError, completeAuthorization, IncompleteAuthorizationError } from '../authorization/exchange.ts';
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

/** Sends with the exchange's own token (the one WeChat's check hands out); false when there is none or WeChat rejects it. */
const sendWithToken = async (token: string | undefined, send: (token: string) => Promise<void>): Promise<boolean> => {
  if (!token) return false;
  try {
    await send(token);
    return true;
  } catch (error) {
    if (isTokenInvalid(error)) return false;
    throw error;
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
  const codeExpiresAt = event.createTime + CODE_TTL_S;
  const done = await completeAuthorization(deps, { authorizationCode: task.queryAuthCode, codeExpiresAt, waitMs: CODE_EXCHANGE_WAIT_MS }).catch(
    (error: unknown) => {
      // A refused code stays refused: drop the task rather than retry it.
      if (error instanceof AuthorizationCodeError || error instanceof IncompleteAuthorizationError)
        throw new PermanentEventError(error.message, { cause: error });
      throw error;
    },
  );
  if (done.authorizerAppid !== task.authorizerAppid) {
    throw new PermanentEventError(`the query_auth_code belongs to ${done.authorizerAppid}, not ${task.authorizerAppid}`);
  }
  const send = (token: string) => deps.wechat.sendCustomText(token, { toUser: task.toUser, content: apiTextContent(task.queryAuthCode) });
  if (!(await sendWithToken(done.exchangeAccessToken, send))) {
    // A cached exchange may hold a token since replaced, or none at all: the account's stored token then serves.
    log.warn('release_test.api_text.stored_token', { because: done.exchangeAccessToken ? 'exchange_token_rejected' : 'no_exchange_token' });
    await withAuthorizerToken(deps, task.authorizerAppid, send);
  }
  log.info('release_test.api_text.sent');
};
