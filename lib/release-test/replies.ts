// The full-network release (全网发布) checks on the message URL (docs/protocol.md §2). WeChat authorizes one of its
// ten test accounts and sends it a text, an API-text request and an event; each must be answered inside 5 s.
// This part runs in the `message` function and never calls WeChat: the text and event cases are answered
// with an encrypted passive reply, the API-text case records a task the `authorized` function completes
// (task.ts), after the HTTP answer, as WeChat requires.
import { protectSecret } from '../kernel/logger.ts';
import { eventId, recordEvent } from '../store/events.ts';
import type { StoreDeps } from '../store/keys.ts';
import type { AccountMessage } from '../wechat/account-messages.ts';
import type { ReplyBody } from '../wechat/replies.ts';

/** The ten test accounts (appid → original id) WeChat uses since 2021-01-18: five official accounts, five mini programs. */
export const RELEASE_TEST_ACCOUNTS: ReadonlyMap<string, string> = new Map([
  ['wx570bc396a51b8ff8', 'gh_3c884a361561'],
  ['wx9252c5e0bb1836fc', 'gh_c0f28a78b318'],
  ['wx8e1097c5bc82cde9', 'gh_3f222ed8d140'],
  ['wx14550af28c71a144', 'gh_26128078e9ab'],
  ['wxa35b9c23cfe664eb', 'gh_2b3713f184a6'],
  ['wxd101a85aa106f53e', 'gh_8dad206e9538'],
  ['wxc39235c15087f6f3', 'gh_905ae9d01059'],
  ['wx7720d01d4b2a4500', 'gh_393666f1fdf4'],
  ['wx05d483572dcd5d8b', 'gh_39abb5d4e1b7'],
  ['wx5910277cae6fd970', 'gh_7818dcb60240'],
]);

const TEST_TEXT = 'TESTCOMPONENT_MSG_TYPE_TEXT';
const TEST_TEXT_REPLY = `${TEST_TEXT}_callback`;
const QUERY_AUTH_CODE_PREFIX = 'QUERY_AUTH_CODE:';
/** The infoType of the task item the API-text case records (kind `release_test_task`). */
export const QUERY_AUTH_CODE_TASK = 'query_auth_code';

export const isReleaseTestAccount = (appid: string): boolean => RELEASE_TEST_ACCOUNTS.has(appid);

/** The customer-service text the API-text case must send: `<code>_from_api`. */
export const apiTextContent = (queryAuthCode: string): string => `${queryAuthCode}_from_api`;

export type ReleaseTestAction =
  | { readonly case: 'text' | 'event'; readonly reply: ReplyBody }
  | { readonly case: 'api_text'; readonly queryAuthCode: string };

/** What a release check asks for, or undefined when the message is not one (it then takes the normal path). */
export const releaseTestAction = (authorizerAppid: string, message: AccountMessage): ReleaseTestAction | undefined => {
  if (!isReleaseTestAccount(authorizerAppid)) return undefined;
  if (message.msgType === 'event') return { case: 'event', reply: { msgType: 'text', content: `${message.event}from_callback` } };
  if (message.msgType !== 'text') return undefined;
  if (message.content === TEST_TEXT) return { case: 'text', reply: { msgType: 'text', content: TEST_TEXT_REPLY } };
  if (message.content.startsWith(QUERY_AUTH_CODE_PREFIX)) {
    const queryAuthCode = message.content.slice(QUERY_AUTH_CODE_PREFIX.length).trim();
    if (queryAuthCode === '') return undefined;
    protectSecret(queryAuthCode);
    return { case: 'api_text', queryAuthCode };
  }
  return undefined;
};

/**
 * Records the API-text task for the `authorized` function. Written once per (account, CreateTime): WeChat's
 * retries of the same message are no-ops. The code is stored because the task needs it; it is never logged.
 */
export const recordApiTextTask = async (
  deps: StoreDeps,
  task: { componentAppId: string; authorizerAppid: string; toUser: string; queryAuthCode: string; createTime: number },
): Promise<{ result: 'recorded' | 'duplicate'; eventId: string }> => {
  const event = {
    kind: 'release_test_task' as const,
    infoType: QUERY_AUTH_CODE_TASK,
    componentAppId: task.componentAppId,
    authorizerAppid: task.authorizerAppid,
    createTime: task.createTime,
    payload: { authorizerAppid: task.authorizerAppid, toUser: task.toUser, queryAuthCode: task.queryAuthCode },
  };
  return { result: await recordEvent(deps, event), eventId: eventId(event) };
};
