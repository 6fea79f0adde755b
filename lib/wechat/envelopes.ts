// The outer layer of every encrypted push, on both URLs (docs/protocol.md §1.2, §1.3): query parameters, body
// and envelope are checked before any crypto runs, and every failure becomes a RejectedRequestError whose
// reason tells the log what happened while the caller only ever sees one uniform answer (docs/architecture.md §6).
import { RejectedRequestError } from '../kernel/errors.ts';
import { CRYPTO_ERRORS, isBase64, openEnvelope, WeChatCryptoError, type Envelope, type MessageKeys } from './crypto.ts';
import { readXml } from './flat-xml.ts';
import { MAX_XML_BYTES, XmlError, type XmlRecord } from './xml.ts';

/** The query parameters WeChat signs a push with (`signature` and `encrypt_type` are not needed). */
export interface PushQuery {
  readonly msgSignature?: string | undefined;
  readonly timestamp?: string | undefined;
  readonly nonce?: string | undefined;
}

/** An envelope whose shape has been checked; `appId` / `toUserName` are the outer ids when present. */
export interface ReceivedEnvelope extends Envelope {
  readonly appId?: string;
  readonly toUserName?: string;
}

const QUERY_SHAPES: readonly [keyof PushQuery, string, RegExp][] = [
  ['msgSignature', 'msg_signature', /^[0-9a-fA-F]{40}$/],
  ['timestamp', 'timestamp', /^\d{1,12}$/],
  ['nonce', 'nonce', /^[\x21-\x7e]{1,64}$/],
];

const reject = (reason: string, cause?: unknown): RejectedRequestError =>
  new RejectedRequestError(reason, cause === undefined ? undefined : { cause });

const checkQuery = (query: PushQuery): { msgSignature: string; timestamp: string; nonce: string } => {
  for (const [key, name, shape] of QUERY_SHAPES) {
    const value = query[key];
    if (value === undefined || value === '') throw reject(`query.${name}.missing`);
    if (!shape.test(value)) throw reject(`query.${name}.malformed`);
  }
  return query as { msgSignature: string; timestamp: string; nonce: string };
};

const outerText = (fields: XmlRecord, name: string): string | undefined => {
  const value = fields[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw reject(`envelope.${name}.malformed`);
  return value.trim();
};

/**
 * Checks a push before any crypto: the three signed query parameters, the body size, the timestamp's age
 * (when `maxSkewS` > 0), the XML and the base64 `Encrypt`. Throws RejectedRequestError.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/Message_encryption_and_decryption.html
 */
export const readEnvelope = (query: PushQuery, body: Buffer, options: { nowS: number; maxSkewS: number }): ReceivedEnvelope => {
  const { msgSignature, timestamp, nonce } = checkQuery(query);
  if (body.length > MAX_XML_BYTES) throw reject('body.too_large');
  if (options.maxSkewS > 0 && Math.abs(options.nowS - Number(timestamp)) > options.maxSkewS) throw reject('timestamp.skew');
  let fields: XmlRecord;
  try {
    fields = readXml(body);
  } catch (error) {
    if (error instanceof XmlError) throw reject(`xml.${error.reason}`, error);
    throw error;
  }
  const encrypt = outerText(fields, 'Encrypt');
  if (!encrypt) throw reject('envelope.Encrypt.missing');
  // Decoded again by decrypt: carrying the bytes over (WeakMap, hidden property) costs more than the decode.
  if (!isBase64(encrypt)) throw reject('envelope.Encrypt.not_base64');
  const appId = outerText(fields, 'AppId');
  const toUserName = outerText(fields, 'ToUserName');
  return { msgSignature, timestamp, nonce, encrypt, ...(appId ? { appId } : {}), ...(toUserName ? { toUserName } : {}) };
};

const CRYPTO_REASONS = new Map<number, string>(Object.entries(CRYPTO_ERRORS).map(([name, code]) => [code, name]));

/**
 * Verifies msg_signature and decrypts. A signature failure's reason starts with `signature` (the edge then
 * refetches the secrets once, in case they were rotated); every other failure's with `decrypt`.
 */
export const openReceived = (keys: MessageKeys, envelope: Envelope): string => {
  try {
    return openEnvelope(keys, envelope);
  } catch (error) {
    if (!(error instanceof WeChatCryptoError)) throw error;
    if (error.code === CRYPTO_ERRORS.signature) throw reject('signature.mismatch', error);
    throw reject(`decrypt.${CRYPTO_REASONS.get(error.code) ?? error.code}`, error);
  }
};
