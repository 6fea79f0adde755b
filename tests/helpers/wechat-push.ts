// Encrypted, signed pushes exactly as WeChat sends them, built with our real sealEnvelope, wrapped in the
// API Gateway HTTP API (payload 2.0) event Lambda receives. Used by the handler tests, the bench and
// scripts/make-events.ts.
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { computeSignature, decodeAesKey, sealEnvelope, type Envelope } from '../../lib/wechat/crypto.ts';

export interface PushKeys {
  readonly token: string;
  /** The trailing appid inside the cipher text: the component's. */
  readonly appId: string;
  readonly encodingAesKey?: string;
  readonly aesKey?: Buffer;
}

export interface PushOptions extends PushKeys {
  /** Query `timestamp`; defaults to the current time. */
  readonly timestamp?: string;
  readonly nonce?: string;
  readonly random?: Buffer;
  readonly rawPath?: string;
  /** The outer `<AppId>`; defaults to `appId`, `null` leaves it out. */
  readonly outerAppId?: string | null;
}

const pushKey = (keys: PushKeys): Buffer => keys.aesKey ?? decodeAesKey(keys.encodingAesKey ?? '');

/** The outer body WeChat posts to the authorization-event URL. */
export const outerBody = (encrypt: string, outerAppId?: string | null): string =>
  `<xml>${outerAppId ? `<AppId><![CDATA[${outerAppId}]]></AppId>` : ''}<Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`;

/** Seals a plain push: the envelope WeChat would compute for it. */
export const sealPush = (plainXml: string, options: PushOptions): Envelope =>
  sealEnvelope({ token: options.token, aesKey: pushKey(options), appId: options.appId }, plainXml, {
    timestamp: options.timestamp ?? String(Math.floor(Date.now() / 1000)),
    nonce: options.nonce ?? String(Math.floor(Math.random() * 1e9)),
    random: options.random,
  });

/** The query WeChat adds to a push: both signatures, timestamp, nonce and encrypt_type. */
export const pushQuery = (token: string, envelope: Envelope): Record<string, string> => ({
  signature: computeSignature(token, envelope.timestamp, envelope.nonce),
  timestamp: envelope.timestamp,
  nonce: envelope.nonce,
  encrypt_type: 'aes',
  msg_signature: envelope.msgSignature,
});

/** An API Gateway HTTP API v2 event, as Lambda receives it. */
export const httpEvent = (input: {
  method?: string;
  rawPath: string;
  query?: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
  time?: number;
}): APIGatewayProxyEventV2 => {
  const method = input.method ?? 'POST';
  const query = input.query ?? {};
  const rawQueryString = new URLSearchParams(query).toString();
  const time = input.time ?? Date.now();
  return {
    version: '2.0',
    routeKey: `${method} ${input.rawPath}`,
    rawPath: input.rawPath,
    rawQueryString,
    headers: { 'content-type': 'text/xml', host: 'example.execute-api.ap-east-1.amazonaws.com', 'user-agent': 'Mozilla/4.0' },
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'example',
      domainName: 'example.execute-api.ap-east-1.amazonaws.com',
      domainPrefix: 'example',
      http: { method, path: input.rawPath, protocol: 'HTTP/1.1', sourceIp: '101.226.103.61', userAgent: 'Mozilla/4.0' },
      requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
      routeKey: `${method} ${input.rawPath}`,
      stage: '$default',
      time: new Date(time).toUTCString(),
      timeEpoch: time,
    },
    ...(input.body === undefined ? {} : { body: input.body }),
    isBase64Encoded: input.isBase64Encoded ?? false,
  };
};

/** A push to the authorization-event URL, encrypted and signed with the given component keys. */
export const encryptedPushEvent = (plainXml: string, options: PushOptions): APIGatewayProxyEventV2 => {
  const envelope = sealPush(plainXml, options);
  return httpEvent({
    rawPath: options.rawPath ?? '/wechat/component/events',
    query: pushQuery(options.token, envelope),
    body: outerBody(envelope.encrypt, options.outerAppId === undefined ? options.appId : options.outerAppId),
  });
};

/** Plain pushes, in WeChat's wire form (docs/protocol.md §1.4). */
export const ticketXml = (p: { appId: string; createTime: number; ticket: string }): string =>
  `<xml><AppId><![CDATA[${p.appId}]]></AppId>\n<CreateTime>${p.createTime}</CreateTime>\n<InfoType><![CDATA[component_verify_ticket]]></InfoType>\n` +
  `<ComponentVerifyTicket><![CDATA[${p.ticket}]]></ComponentVerifyTicket>\n</xml>`;

export const authorizedXml = (p: {
  appId: string;
  createTime: number;
  authorizerAppid: string;
  code: string;
  infoType?: 'authorized' | 'updateauthorized';
  preAuthCode?: string;
}): string =>
  `<xml><AppId>${p.appId}</AppId><CreateTime>${p.createTime}</CreateTime><InfoType>${p.infoType ?? 'authorized'}</InfoType>` +
  `<AuthorizerAppid>${p.authorizerAppid}</AuthorizerAppid><AuthorizationCode>${p.code}</AuthorizationCode>` +
  `<AuthorizationCodeExpiredTime>${p.createTime + 3600}</AuthorizationCodeExpiredTime>` +
  `${p.preAuthCode ? `<PreAuthCode>${p.preAuthCode}</PreAuthCode>` : ''}</xml>`;

export const unauthorizedXml = (p: { appId: string; createTime: number; authorizerAppid: string }): string =>
  `<xml><AppId>${p.appId}</AppId><CreateTime>${p.createTime}</CreateTime><InfoType>unauthorized</InfoType><AuthorizerAppid>${p.authorizerAppid}</AuthorizerAppid></xml>`;

export const fastRegisterXml = (p: { appId: string; createTime: number; appid: string; authCode: string }): string =>
  `<xml><AppId><![CDATA[${p.appId}]]></AppId><CreateTime>${p.createTime}</CreateTime><InfoType><![CDATA[notify_third_fasteregister]]></InfoType>` +
  `<appid>${p.appid}</appid><status>0</status><auth_code>${p.authCode}</auth_code><msg>OK</msg>` +
  '<info><name><![CDATA[Acme Ltd]]></name><code><![CDATA[91440300MA5EXAMPLE]]></code><code_type>1</code_type>' +
  '<legal_persona_wechat><![CDATA[acme_lp]]></legal_persona_wechat><legal_persona_name><![CDATA[Li Lei]]></legal_persona_name>' +
  '<component_phone><![CDATA[13800000000]]></component_phone></info></xml>';
