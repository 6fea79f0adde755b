// Deliveries to an account's message URL exactly as WeChat sends them (docs/protocol.md §2): the inner MP XML
// sealed with the COMPONENT's keys, the outer `<ToUserName>` + `<Encrypt>`, the signed query with `openid`.
// Also opens the encrypted passive replies the platform answers with. Used by tests and the bench.
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { keysFrom, openEnvelope, sealEnvelope, type MessageKeys } from '../../lib/wechat/crypto.ts';
import { parseAccountMessage, type AccountMessage } from '../../lib/wechat/account-messages.ts';
import { parseXml } from '../../lib/wechat/xml.ts';
import { httpEvent, pushQuery } from './wechat-push.ts';

export interface ComponentKeys {
  readonly appId: string;
  readonly token: string;
  readonly encodingAesKey: string;
}

const cdata = (v: string) => `<![CDATA[${v}]]>`;

export const textXml = (p: { toUser: string; fromUser: string; createTime: number; content: string; msgId: string }): string =>
  `<xml><ToUserName>${cdata(p.toUser)}</ToUserName>\n<FromUserName>${cdata(p.fromUser)}</FromUserName>\n<CreateTime>${p.createTime}</CreateTime>\n` +
  `<MsgType>${cdata('text')}</MsgType>\n<Content>${cdata(p.content)}</Content>\n<MsgId>${p.msgId}</MsgId>\n</xml>`;

export const eventXml = (p: { toUser: string; fromUser: string; createTime: number; event: string; extra?: string }): string =>
  `<xml><ToUserName>${cdata(p.toUser)}</ToUserName>\n<FromUserName>${cdata(p.fromUser)}</FromUserName>\n<CreateTime>${p.createTime}</CreateTime>\n` +
  `<MsgType>${cdata('event')}</MsgType>\n<Event>${cdata(p.event)}</Event>\n${p.extra ?? ''}</xml>`;

/** The sealed request: path, query (with openid) and outer body. */
export const sealMessage = (
  component: ComponentKeys,
  input: { authorizerAppid: string; toUser: string; openid: string; innerXml: string; timestamp: number },
) => {
  const keys = keysFrom(component, component.appId);
  const envelope = sealEnvelope(keys, input.innerXml, { timestamp: String(input.timestamp), nonce: String(Math.floor(Math.random() * 1e9)) });
  const query: Record<string, string> = { ...pushQuery(component.token, envelope), openid: input.openid };
  return {
    path: `/wechat/authorizers/${input.authorizerAppid}/callback`,
    query,
    body: `<xml><ToUserName>${cdata(input.toUser)}</ToUserName>\n<Encrypt>${cdata(envelope.encrypt)}</Encrypt>\n</xml>`,
  };
};

/** The same request as the API Gateway HTTP API event the message function receives. */
export const messageEvent = (component: ComponentKeys, input: Parameters<typeof sealMessage>[1]): APIGatewayProxyEventV2 => {
  const sealed = sealMessage(component, input);
  const event = httpEvent({ rawPath: sealed.path, query: sealed.query, body: sealed.body });
  return { ...event, pathParameters: { appid: input.authorizerAppid } };
};

/** Opens an encrypted passive reply with the component keys (signature checked) and parses the inner reply. */
export const openReply = (component: ComponentKeys | MessageKeys, replyXml: string): AccountMessage & { raw: string } => {
  const keys = 'aesKey' in component ? component : keysFrom(component, component.appId);
  const outer = parseXml(replyXml);
  const raw = openEnvelope(keys, {
    msgSignature: String(outer.MsgSignature),
    timestamp: String(outer.TimeStamp),
    nonce: String(outer.Nonce),
    encrypt: String(outer.Encrypt),
  });
  // A reply has no MsgId; a placeholder lets the message reader type it.
  return { ...parseAccountMessage(raw.replace('</xml>', '<MsgId>0</MsgId></xml>')), raw };
};
