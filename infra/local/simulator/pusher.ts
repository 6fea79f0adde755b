// Pushes as WeChat sends them: the inner XML (docs/protocol.md §1.4) encrypted and signed with the component's
// token, key and appid, wrapped in the outer XML, POSTed with the signature query (§1.2). A push is one
// attempt with WeChat's 5 s patience; only the start-up push retries, because the platform may still be starting.
import { setTimeout as delay } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { computeSignature, sealEnvelope, type MessageKeys } from '../../../lib/wechat/crypto.ts';
import { randomNonce } from './state.ts';

export interface PushResult {
  /** HTTP status of the platform's answer; 0 when there was no answer (refused, reset, timed out). */
  readonly status: number;
  readonly body: string;
}

export interface Delivery {
  /** What the log line calls this push (an InfoType or message kind); never a value from the payload. */
  readonly label: string;
  /** Seconds; the signature timestamp. */
  readonly timestamp: number;
  /** Outer XML element naming the recipient: AppId on the event URL, ToUserName on the message URL. */
  readonly outer?: { readonly name: 'AppId' | 'ToUserName'; readonly value: string };
  /** Extra query parameters, e.g. `openid` on the message URL. */
  readonly query?: Readonly<Record<string, string>>;
}

export interface Pusher {
  deliver(url: string, innerXml: string, delivery: Delivery): Promise<PushResult>;
  /** deliver(), retried while nobody answers (status 0), `attempts` times `retryDelayMs` apart. */
  deliverPatiently(url: string, innerXml: string, delivery: Delivery, attempts: number, retryDelayMs: number): Promise<PushResult>;
  close(): Promise<void>;
}

const cdata = (value: string): string => `<![CDATA[${value}]]>`;

export const ticketXml = (appId: string, createTime: number, ticket: string): string =>
  `<xml><AppId>${cdata(appId)}</AppId>\n<CreateTime>${createTime}</CreateTime>\n` +
  `<InfoType>${cdata('component_verify_ticket')}</InfoType>\n<ComponentVerifyTicket>${cdata(ticket)}</ComponentVerifyTicket>\n</xml>`;

export interface AuthorizationPush {
  readonly appId: string;
  readonly createTime: number;
  readonly infoType: 'authorized' | 'updateauthorized';
  readonly authorizerAppid: string;
  readonly authorizationCode: string;
  readonly preAuthCode?: string;
}

export const authorizationXml = (push: AuthorizationPush): string =>
  `<xml><AppId>${cdata(push.appId)}</AppId>\n<CreateTime>${push.createTime}</CreateTime>\n` +
  `<InfoType>${cdata(push.infoType)}</InfoType>\n<AuthorizerAppid>${cdata(push.authorizerAppid)}</AuthorizerAppid>\n` +
  `<AuthorizationCode>${cdata(push.authorizationCode)}</AuthorizationCode>\n` +
  // Expiry is CreateTime + 3600 in every real sample.
  `<AuthorizationCodeExpiredTime>${push.createTime + 3600}</AuthorizationCodeExpiredTime>\n` +
  (push.preAuthCode ? `<PreAuthCode>${cdata(push.preAuthCode)}</PreAuthCode>\n` : '') +
  '</xml>';

export const unauthorizedXml = (appId: string, createTime: number, authorizerAppid: string): string =>
  `<xml><AppId>${cdata(appId)}</AppId>\n<CreateTime>${createTime}</CreateTime>\n` +
  `<InfoType>${cdata('unauthorized')}</InfoType>\n<AuthorizerAppid>${cdata(authorizerAppid)}</AuthorizerAppid>\n</xml>`;

/** The sealed request WeChat would send: outer XML body and the signed query string. */
export const sealPush = (keys: MessageKeys, innerXml: string, delivery: Delivery) => {
  const timestamp = String(delivery.timestamp);
  const nonce = randomNonce();
  const sealed = sealEnvelope(keys, innerXml, { timestamp, nonce });
  const outer = delivery.outer ?? { name: 'AppId', value: keys.appId };
  const body = `<xml><${outer.name}>${cdata(outer.value)}</${outer.name}><Encrypt>${cdata(sealed.encrypt)}</Encrypt></xml>`;
  const query = new URLSearchParams({
    signature: computeSignature(keys.token, timestamp, nonce),
    timestamp,
    nonce,
    ...delivery.query,
    encrypt_type: 'aes',
    msg_signature: sealed.msgSignature,
  });
  return { body, query: query.toString() };
};

const PUSH_TIMEOUT_MS = 5000;
const BODY_IN_LOG = 60;

const summary = (body: string): string => {
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length > BODY_IN_LOG ? `${flat.slice(0, BODY_IN_LOG)}…` : flat;
};

export const createPusher = (keys: MessageKeys, log: (line: string) => void, signal: AbortSignal): Pusher => {
  // An own dispatcher: a MockAgent installed globally by a test in this process must not swallow real pushes.
  const agent = new Agent({ headersTimeout: PUSH_TIMEOUT_MS, bodyTimeout: PUSH_TIMEOUT_MS, connectTimeout: PUSH_TIMEOUT_MS });

  const attempt = async (url: string, innerXml: string, delivery: Delivery): Promise<PushResult> => {
    const { body, query } = sealPush(keys, innerXml, delivery);
    const target = `${url}${url.includes('?') ? '&' : '?'}${query}`;
    try {
      const response = await request(target, {
        method: 'POST',
        headers: { 'content-type': 'text/xml' },
        body,
        dispatcher: agent,
        signal: AbortSignal.any([signal, AbortSignal.timeout(PUSH_TIMEOUT_MS)]),
      });
      return { status: response.statusCode, body: await response.body.text() };
    } catch (error) {
      const code = (error as { code?: string }).code ?? (error as Error).name;
      return { status: 0, body: `no answer (${code})` };
    }
  };

  const report = (label: string, result: PushResult): PushResult => {
    log(`push ${label} → ${result.status} ${summary(result.body)}`);
    return result;
  };

  return {
    deliver: async (url, innerXml, delivery) => report(delivery.label, await attempt(url, innerXml, delivery)),
    deliverPatiently: async (url, innerXml, delivery, attempts, retryDelayMs) => {
      let result = await attempt(url, innerXml, delivery);
      for (let tries = 1; result.status === 0 && tries < attempts && !signal.aborted; tries += 1) {
        await delay(retryDelayMs, undefined, { signal }).catch(() => undefined);
        if (!signal.aborted) result = await attempt(url, innerXml, delivery);
      }
      return report(delivery.label, result);
    },
    close: () => agent.close(),
  };
};
