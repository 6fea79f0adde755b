// WXBizMsgCrypt, written from the protocol (docs/protocol.md §1.3): the message encryption WeChat uses on both
// component URLs. Pure functions over Buffers; no I/O. Error codes are the official sample's.
import { createCipheriv, createDecipheriv, hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError } from '../kernel/errors.ts';

export const CRYPTO_ERRORS = {
  signature: -40001,
  aesKey: -40004,
  appId: -40005,
  decrypt: -40007,
  buffer: -40008,
  base64: -40010,
} as const;

/** A failed verification or decryption; `code` is the official WXBizMsgCrypt error code. */
export class WeChatCryptoError extends AppError {
  readonly code: number;
  constructor(code: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

export interface MessageKeys {
  readonly token: string;
  readonly aesKey: Buffer;
  /** The component appid: the trailing id of every message on both URLs. */
  readonly appId: string;
}

export interface Envelope {
  readonly msgSignature: string;
  readonly timestamp: string;
  readonly nonce: string;
  readonly encrypt: string;
}

const BLOCK = 32;
const RANDOM_BYTES = 16;
const HEADER = RANDOM_BYTES + 4;

/**
 * The bytes of a standard base64 text in whole 4-character groups, the only form an `Encrypt` value takes;
 * undefined for anything else. Decoding skips what is not base64 (white space, `-`, `_`, text after `=`), so
 * the bytes must encode back to exactly the text: that refuses every such character, and non-zero padding
 * bits, at the price of one native encode (no regular expression over the whole value).
 */
export const decodeBase64 = (text: string): Buffer | undefined => {
  if (text.length === 0 || text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
};

/** Whether `text` is standard base64 (see decodeBase64). */
export const isBase64 = (text: string): boolean => decodeBase64(text) !== undefined;

/** EncodingAESKey (43 chars) → the 32-byte AES key. */
export const decodeAesKey = (encodingAesKey: string): Buffer => {
  const key = /^[A-Za-z0-9]{43}$/.test(encodingAesKey) ? Buffer.from(`${encodingAesKey}=`, 'base64') : Buffer.alloc(0);
  if (key.length !== 32) throw new WeChatCryptoError(CRYPTO_ERRORS.aesKey, 'EncodingAESKey must be 43 characters decoding to 32 bytes');
  return key;
};

type SecretsLike = { readonly token: string; readonly encodingAesKey: string };
// Secrets objects live as long as a container's deps (lib/runtime/lambda.ts rebuilds them only when the secrets
// change), so every push reuses the keys derived for them instead of decoding the AES key again.
const derivedKeys = new WeakMap<SecretsLike, MessageKeys>();

/** The message keys of a component's secrets; derived once per secrets object. */
export const keysFrom = (secrets: SecretsLike, appId: string): MessageKeys => {
  const cached = derivedKeys.get(secrets);
  if (cached?.appId === appId) return cached;
  const keys = { token: secrets.token, aesKey: decodeAesKey(secrets.encodingAesKey), appId };
  derivedKeys.set(secrets, keys);
  return keys;
};

/** sha1 hex of the values sorted as strings and joined: `signature` (3 values) or `msg_signature` (4). */
export const computeSignature = (...values: string[]): string => hash('sha1', values.sort().join(''), 'hex');

/** Checks `msg_signature` over (token, timestamp, nonce, Encrypt) in constant time. */
export const verifySignature = (token: string, timestamp: string, nonce: string, encrypt: string, msgSignature: string): boolean => {
  const expected = Buffer.from(computeSignature(token, timestamp, nonce, encrypt), 'latin1');
  const given = Buffer.from(msgSignature.toLowerCase(), 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
};

const aes = (aesKey: Buffer) => ({ key: aesKey, iv: aesKey.subarray(0, 16) });

// One AES-256-CBC decipher per key, reused for every message and never finalised. In CBC each plain block is
// D(its cipher block) XOR the cipher block before it; only the first block depends on the IV, and a reused
// decipher XORs it with the previous message's last cipher block instead. WeChat's first 16 bytes (one AES
// block) are the random prefix, which is discarded unread, so every byte that is read comes out exactly as
// from a fresh decipher. Inputs are whole 32-byte blocks, so the decipher never holds a partial block back.
// Creating a decipher costs more than decrypting a push (docs/performance.md), hence the reuse.
type Decipher = ReturnType<typeof createDecipheriv>;
const deciphers = new WeakMap<Buffer, Decipher>();
const decipherFor = (aesKey: Buffer): Decipher => {
  let decipher = deciphers.get(aesKey);
  if (!decipher) {
    const { key, iv } = aes(aesKey);
    decipher = createDecipheriv('aes-256-cbc', key, iv).setAutoPadding(false);
    deciphers.set(aesKey, decipher);
  }
  return decipher;
};

/** Decrypts a base64 `Encrypt` value and checks padding, length and the trailing appid. */
export const decrypt = (encrypt: string, aesKey: Buffer, appId: string): string => {
  const cipherText = decodeBase64(encrypt);
  if (!cipherText) throw new WeChatCryptoError(CRYPTO_ERRORS.base64, 'Encrypt is not base64');
  if (cipherText.length % BLOCK !== 0) throw new WeChatCryptoError(CRYPTO_ERRORS.buffer, 'cipher text is not a whole number of 32-byte blocks');
  let plain: Buffer;
  try {
    plain = decipherFor(aesKey).update(cipherText);
  } catch (error) {
    deciphers.delete(aesKey);
    throw new WeChatCryptoError(CRYPTO_ERRORS.decrypt, 'AES decryption failed', { cause: error });
  }
  if (plain.length !== cipherText.length) {
    deciphers.delete(aesKey);
    throw new WeChatCryptoError(CRYPTO_ERRORS.decrypt, 'AES decryption returned a partial block');
  }
  const content = stripPadding(plain);
  if (content.length < HEADER) throw new WeChatCryptoError(CRYPTO_ERRORS.buffer, 'plain text shorter than its header');
  const length = content.readUInt32BE(RANDOM_BYTES);
  // A wrong key yields a huge length; bound it by what is actually there before slicing.
  if (length > content.length - HEADER) throw new WeChatCryptoError(CRYPTO_ERRORS.buffer, 'message length exceeds the plain text');
  const trailingAppId = content.subarray(HEADER + length).toString('utf8');
  if (trailingAppId !== appId) throw new WeChatCryptoError(CRYPTO_ERRORS.appId, 'trailing appid does not match');
  return content.subarray(HEADER, HEADER + length).toString('utf8');
};

/** PKCS#7 over 32-byte blocks, checked strictly: pad 1..32 and every pad byte equal. */
const stripPadding = (plain: Buffer): Buffer => {
  const pad = plain[plain.length - 1] ?? 0;
  if (pad < 1 || pad > BLOCK || pad > plain.length) throw new WeChatCryptoError(CRYPTO_ERRORS.decrypt, 'invalid padding');
  for (let i = plain.length - pad; i < plain.length; i += 1) {
    if (plain[i] !== pad) throw new WeChatCryptoError(CRYPTO_ERRORS.decrypt, 'invalid padding');
  }
  return plain.subarray(0, plain.length - pad);
};

/** Encrypts a message for WeChat's format; `random` (16 bytes) is injectable for known-answer tests. */
export const encrypt = (message: string, aesKey: Buffer, appId: string, options: { random?: Buffer } = {}): string => {
  const random = options.random ?? randomBytes(RANDOM_BYTES);
  if (random.length !== RANDOM_BYTES) throw new WeChatCryptoError(CRYPTO_ERRORS.buffer, 'random prefix must be 16 bytes');
  const body = Buffer.from(message, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length, 0);
  const unpadded = Buffer.concat([random, length, body, Buffer.from(appId, 'utf8')]);
  const pad = BLOCK - (unpadded.length % BLOCK);
  const { key, iv } = aes(aesKey);
  const cipher = createCipheriv('aes-256-cbc', key, iv).setAutoPadding(false);
  return Buffer.concat([cipher.update(Buffer.concat([unpadded, Buffer.alloc(pad, pad)])), cipher.final()]).toString('base64');
};

/** Verifies `msg_signature` and decrypts: the whole inbound check of a push. */
export const openEnvelope = (keys: MessageKeys, envelope: Envelope): string => {
  if (!verifySignature(keys.token, envelope.timestamp, envelope.nonce, envelope.encrypt, envelope.msgSignature)) {
    throw new WeChatCryptoError(CRYPTO_ERRORS.signature, 'msg_signature does not match');
  }
  return decrypt(envelope.encrypt, keys.aesKey, keys.appId);
};

/** Encrypts and signs a message: an encrypted passive reply, or a simulated WeChat push. */
export const sealEnvelope = (keys: MessageKeys, message: string, options: { timestamp: string; nonce: string; random?: Buffer }): Envelope => {
  const sealed = encrypt(message, keys.aesKey, keys.appId, { random: options.random });
  return {
    encrypt: sealed,
    msgSignature: computeSignature(keys.token, options.timestamp, options.nonce, sealed),
    timestamp: options.timestamp,
    nonce: options.nonce,
  };
};

/** The encrypted reply XML WeChat expects on the message URL. */
export const envelopeXml = (envelope: Envelope): string =>
  `<xml>\n<Encrypt><![CDATA[${envelope.encrypt}]]></Encrypt>\n<MsgSignature><![CDATA[${envelope.msgSignature}]]></MsgSignature>\n` +
  `<TimeStamp>${envelope.timestamp}</TimeStamp>\n<Nonce><![CDATA[${envelope.nonce}]]></Nonce>\n</xml>`;
