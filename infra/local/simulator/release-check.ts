// The simulator's "release check" mode: WeChat's full-network release test (全网发布, docs/protocol.md §2) run against
// a running platform (`npm start`). It drives the simulator through its /__sim controls (ticket push,
// authorization of a test account, unauthorization, recorded customer-service messages) and talks to the
// platform's message URL itself, sealing messages with the component's keys as WeChat does. Each case is
// judged the way WeChat judges it, and the report names the cases as WeChat's console does.
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { keysFrom, openEnvelope, type MessageKeys } from '../../../lib/wechat/crypto.ts';
import { parseXml } from '../../../lib/wechat/xml.ts';
import { sealPush } from './pusher.ts';

/** The ten test accounts WeChat picks from (docs/protocol.md §2): appid → original id; the first five are official accounts.
 * Kept apart from the platform's own list on purpose, so a typo there fails the check. */
export const TEST_ACCOUNTS: readonly (readonly [string, string])[] = [
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
];

export interface ReleaseCheckOptions {
  /** Where the platform serves, e.g. http://127.0.0.1:3000. */
  readonly platformUrl: string;
  /** The simulator the platform uses as WECHAT_API_BASE_URL (its /__sim controls). */
  readonly simulatorUrl: string;
  readonly component: { readonly appId: string; readonly token: string; readonly encodingAesKey: string };
  /** One of the ten test appids; default: a random one, as WeChat does. */
  readonly authorizerAppid?: string;
  /** How long to wait for the asynchronous cases (authorization, API text); default 20 s. */
  readonly timeoutMs?: number;
  /** How long a message may take to be answered; default 5 s, WeChat's limit. */
  readonly replyLimitMs?: number;
}

export interface CaseResult {
  readonly label: string;
  readonly pass: boolean;
  readonly ms: number;
  readonly detail: string;
  /** What the platform answered or sent (reply content, customer-service text): for tests, never printed. */
  readonly observed?: string;
}

export interface ReleaseCheckReport {
  readonly authorizerAppid: string;
  readonly userName: string;
  readonly openid: string;
  readonly cases: readonly CaseResult[];
  readonly pass: boolean;
}

/** WeChat drops the connection after 5 s (docs/protocol.md §1.5). */
const REPLY_LIMIT_MS = 5000;

class CaseFailure extends Error {}
const expect = (ok: boolean, detail: string): void => {
  if (!ok) throw new CaseFailure(detail);
};

const cdata = (v: string) => `<![CDATA[${v}]]>`;
const head = (toUser: string, openid: string, createTime: number, msgType: string) =>
  `<xml><ToUserName>${cdata(toUser)}</ToUserName>\n<FromUserName>${cdata(openid)}</FromUserName>\n<CreateTime>${createTime}</CreateTime>\n<MsgType>${cdata(msgType)}</MsgType>\n`;
const textXml = (toUser: string, openid: string, content: string) =>
  `${head(toUser, openid, nowS(), 'text')}<Content>${cdata(content)}</Content>\n<MsgId>${BigInt(`0x${randomBytes(7).toString('hex')}`)}</MsgId>\n</xml>`;
const eventXml = (toUser: string, openid: string, event: string) =>
  `${head(toUser, openid, nowS(), 'event')}<Event>${cdata(event)}</Event>\n<Latitude>23.137466</Latitude>\n<Longitude>113.352425</Longitude>\n<Precision>119.385040</Precision>\n</xml>`;
const nowS = () => Math.floor(Date.now() / 1000);

const createSim =
  (simulatorUrl: string) =>
  async <T>(path: string, body?: object): Promise<T> => {
    const response = await fetch(`${simulatorUrl}/__sim/${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      signal: AbortSignal.timeout(15_000),
    });
    const json = (await response.json()) as T & { error?: string };
    if (!response.ok) throw new CaseFailure(`simulator /__sim/${path}: ${response.status} ${json.error ?? ''}`);
    return json;
  };

/** Opens an encrypted passive reply and returns the inner reply's fields (signature checked). */
const openReply = (keys: MessageKeys, body: string) => {
  const outer = parseXml(body);
  const [msgSignature, timestamp, nonce, encrypt] = ['MsgSignature', 'TimeStamp', 'Nonce', 'Encrypt'].map((k) => String(outer[k] ?? ''));
  return parseXml(openEnvelope(keys, { msgSignature: msgSignature!, timestamp: timestamp!, nonce: nonce!, encrypt: encrypt! }));
};

const waitFor = async <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new CaseFailure(`${what} within ${timeoutMs} ms`);
    await delay(200);
  }
};

interface Ctx {
  readonly options: ReleaseCheckOptions;
  readonly keys: MessageKeys;
  readonly sim: ReturnType<typeof createSim>;
  readonly appid: string;
  readonly userName: string;
  readonly openid: string;
  readonly timeoutMs: number;
  readonly replyLimitMs: number;
  authorizationCode?: string;
}

/** POSTs a sealed message to the platform's message URL as WeChat would. */
const send = async (ctx: Ctx, innerXml: string): Promise<{ status: number; body: string; ms: number }> => {
  const sealed = sealPush(ctx.keys, innerXml, {
    label: 'message',
    timestamp: nowS(),
    outer: { name: 'ToUserName', value: ctx.userName },
    query: { openid: ctx.openid },
  });
  const started = performance.now();
  const response = await fetch(`${ctx.options.platformUrl}/wechat/authorizers/${ctx.appid}/callback?${sealed.query}`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml' },
    body: sealed.body,
    signal: AbortSignal.timeout(ctx.replyLimitMs),
  });
  const body = await response.text();
  return { status: response.status, body, ms: Math.round(performance.now() - started) };
};

type CaseFn = (ctx: Ctx, observe: (value: string) => void) => Promise<string>;

/** A case answered by an encrypted passive reply: opened with the component keys and compared exactly. */
const passiveReplyCase =
  (innerXml: (ctx: Ctx) => string, expected: string): CaseFn =>
  async (ctx, observe) => {
    const answer = await send(ctx, innerXml(ctx));
    expect(answer.status === 200, `HTTP ${answer.status}: ${answer.body.slice(0, 60)}`);
    const reply = openReply(ctx.keys, answer.body);
    observe(String(reply.Content ?? ''));
    expect(reply.MsgType === 'text', `reply MsgType ${String(reply.MsgType)}`);
    expect(reply.ToUserName === ctx.openid && reply.FromUserName === ctx.userName, 'reply To/From are not the user and the account');
    expect(reply.Content === expected, `reply content ${JSON.stringify(reply.Content)}, expected ${JSON.stringify(expected)}`);
    return `${answer.ms} ms, encrypted reply "${expected}"`;
  };

const CASES: readonly [string, CaseFn][] = [
  [
    '组件ticket正确接收',
    async (ctx) => {
      const result = await ctx.sim<{ status: number; body: string }>('push-ticket', {});
      const answered = `ticket push answered ${result.status} ${JSON.stringify(result.body.slice(0, 40))}`;
      expect(result.status === 200 && result.body === 'success', answered);
      return 'answered exactly "success"';
    },
  ],
  [
    '授权',
    async (ctx) => {
      const since = Date.now();
      const kind = TEST_ACCOUNTS.findIndex(([a]) => a === ctx.appid) < 5 ? 'official' : 'miniprogram';
      const body = { authorizerAppid: ctx.appid, userName: ctx.userName, kind, withPreAuthCode: false };
      const result = await ctx.sim<{ authorizationCode: string; pushStatus?: number }>('authorize', body);
      ctx.authorizationCode = result.authorizationCode;
      expect(result.pushStatus === 200, `authorized push answered ${String(result.pushStatus)}`);
      type Calls = { log: { api: string; errcode: number; at: number }[] };
      await waitFor('api_query_auth by the platform', ctx.timeoutMs, async () =>
        (await ctx.sim<Calls>('calls')).log.find((c) => c.api === 'api_query_auth' && c.errcode === 0 && c.at >= since),
      );
      return 'authorized push acknowledged; the platform exchanged the code';
    },
  ],
  [
    '返回普通文本消息',
    passiveReplyCase((ctx) => textXml(ctx.userName, ctx.openid, 'TESTCOMPONENT_MSG_TYPE_TEXT'), 'TESTCOMPONENT_MSG_TYPE_TEXT_callback'),
  ],
  [
    '返回Api文本消息',
    async (ctx, observe) => {
      const code = ctx.authorizationCode;
      expect(code !== undefined, 'no query_auth_code: the authorization case did not run');
      const answer = await send(ctx, textXml(ctx.userName, ctx.openid, `QUERY_AUTH_CODE:${code}`));
      expect(answer.status === 200 && (answer.body === '' || answer.body === 'success'), `HTTP ${answer.status}, body must be empty or success`);
      type Messages = { messages: { toUser: string; content: string; authorizerAppid: string }[] };
      const sent = await waitFor('the customer-service message', ctx.timeoutMs, async () =>
        (await ctx.sim<Messages>('messages')).messages.find((m) => m.toUser === ctx.openid && m.authorizerAppid === ctx.appid),
      );
      observe(sent.content);
      expect(sent.content === `${code}_from_api`, 'customer-service text is not "<query_auth_code>_from_api"');
      return `answered empty in ${answer.ms} ms; customer-service text "<query_auth_code>_from_api" sent as the account`;
    },
  ],
  ['发送事件消息', passiveReplyCase((ctx) => eventXml(ctx.userName, ctx.openid, 'LOCATION'), 'LOCATIONfrom_callback')],
  [
    '取消授权',
    async (ctx) => {
      const result = await ctx.sim<{ pushStatus?: number }>('unauthorize', { authorizerAppid: ctx.appid });
      expect(result.pushStatus === 200, `unauthorized push answered ${String(result.pushStatus)}`);
      return 'unauthorized push acknowledged';
    },
  ],
];

const runCase = async (ctx: Ctx, label: string, fn: CaseFn): Promise<CaseResult> => {
  const started = performance.now();
  let observed: string | undefined;
  try {
    const detail = await fn(ctx, (value) => (observed = value));
    return { label, pass: true, ms: Math.round(performance.now() - started), detail, ...(observed === undefined ? {} : { observed }) };
  } catch (error) {
    const detail = error instanceof CaseFailure ? error.message : `${(error as Error).name}: ${(error as Error).message}`;
    return { label, pass: false, ms: Math.round(performance.now() - started), detail, ...(observed === undefined ? {} : { observed }) };
  }
};

/** Runs every case in WeChat's order against one test account; never throws for a failed case. */
export const runReleaseCheck = async (options: ReleaseCheckOptions): Promise<ReleaseCheckReport> => {
  const account = options.authorizerAppid
    ? TEST_ACCOUNTS.find(([appid]) => appid === options.authorizerAppid)
    : TEST_ACCOUNTS[Math.floor(Math.random() * TEST_ACCOUNTS.length)];
  if (!account) throw new Error(`${options.authorizerAppid} is not one of WeChat's ten release-test accounts`);
  const [appid, userName] = account;
  const ctx: Ctx = {
    options,
    appid,
    userName,
    keys: keysFrom(options.component, options.component.appId),
    sim: createSim(options.simulatorUrl),
    openid: `ozy4qt${randomBytes(11).toString('base64url')}`,
    timeoutMs: options.timeoutMs ?? 20_000,
    replyLimitMs: options.replyLimitMs ?? REPLY_LIMIT_MS,
  };
  const cases: CaseResult[] = [];
  for (const [label, fn] of CASES) cases.push(await runCase(ctx, label, fn));
  return { authorizerAppid: appid, userName, openid: ctx.openid, cases, pass: cases.every((c) => c.pass) };
};

/** The report as WeChat's console lists it: one line per case with 通过/失败 (pass/fail). */
export const formatReport = (report: ReleaseCheckReport): string =>
  [
    `全网发布检测 (release check) · test account ${report.authorizerAppid} (${report.userName})`,
    ...report.cases.map((c) => `[${c.label}] ${c.pass ? '通过 PASS' : '失败 FAIL'}  ${c.ms} ms  ${c.detail}`),
    report.pass
      ? '全部通过: all release checks passed'
      : `未通过: ${report.cases.filter((c) => !c.pass).length} of ${report.cases.length} checks failed`,
  ].join('\n');
