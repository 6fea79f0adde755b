import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  computeSignature,
  CRYPTO_ERRORS,
  decodeAesKey,
  decrypt,
  encrypt,
  envelopeXml,
  keysFrom,
  openEnvelope,
  sealEnvelope,
  verifySignature,
  WeChatCryptoError,
} from '../../../lib/wechat/crypto.ts';
import { V1, V2, V3, V4 } from '../../fixtures/crypto/vectors.ts';

const code = (fn: () => unknown): number | undefined => {
  try {
    fn();
  } catch (error) {
    if (error instanceof WeChatCryptoError) return error.code;
    throw error;
  }
  return undefined;
};

/** Encrypts an arbitrary plain buffer with no padding logic, to build malformed cipher texts. */
const rawEncrypt = (plain: Buffer, key: Buffer): string => {
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
  return Buffer.concat([cipher.update(plain), cipher.final()]).toString('base64');
};

describe('crypto vectors', () => {
  it('V1: verifies both signatures and decrypts Tencent sample, and re-encrypts it byte for byte', () => {
    const key = decodeAesKey(V1.encodingAesKey);
    assert.equal(computeSignature(V1.token, V1.timestamp, V1.nonce), V1.signature);
    assert.ok(verifySignature(V1.token, V1.timestamp, V1.nonce, V1.encrypt, V1.msgSignature));
    assert.equal(decrypt(V1.encrypt, key, V1.appId), V1.message);
    assert.equal(encrypt(V1.message, key, V1.appId, { random: Buffer.from(V1.random) }), V1.encrypt);
  });

  it('V2: encrypts Chinese text with its byte length, not its character length', () => {
    const key = decodeAesKey(V2.encodingAesKey);
    const random = Buffer.from(V2.random);
    assert.equal(encrypt(V2.chinese.message, key, V2.appId, { random }), V2.chinese.encrypt);
    assert.equal(encrypt(V2.video.message, key, V2.appId, { random }), V2.video.encrypt);
    assert.equal(decrypt(V2.video.encrypt, key, V2.appId), V2.video.message);
    assert.equal(computeSignature(V2.token, V2.chinese.timestamp, V2.chinese.nonce, V2.chinese.encrypt), V2.chinese.msgSignature);
  });

  it('V3: builds the exact encrypted reply XML and decrypts the signed message and echo check', () => {
    const keys = keysFrom(V3, V3.appId);
    const c = V3.encryptCase;
    const sealed = sealEnvelope(keys, c.message, { timestamp: c.timestamp, nonce: c.nonce, random: Buffer.from(c.random) });
    assert.equal(
      envelopeXml(sealed),
      `<xml>\n<Encrypt><![CDATA[${c.encrypt}]]></Encrypt>\n<MsgSignature><![CDATA[${c.msgSignature}]]></MsgSignature>\n<TimeStamp>${c.timestamp}</TimeStamp>\n<Nonce><![CDATA[${c.nonce}]]></Nonce>\n</xml>`,
    );
    const plain = openEnvelope(keys, V3.decryptCase);
    assert.match(plain, /<Content><!\[CDATA\[test\]\]><\/Content>/);
    assert.match(plain, /<FromUserName><!\[CDATA\[messense\]\]><\/FromUserName>/);
    assert.match(plain, /<MsgId>4363689963896700987<\/MsgId>/);
    const e = V3.echoCase;
    assert.equal(openEnvelope(keys, { msgSignature: e.signature, timestamp: e.timestamp, nonce: e.nonce, encrypt: e.echostr }), e.plain);
    assert.equal(
      code(() => openEnvelope(keys, { msgSignature: e.signature, timestamp: e.timestamp, nonce: e.wrongNonce, encrypt: e.echostr })),
      CRYPTO_ERRORS.signature,
    );
  });

  it('V4: decrypts EasyWeChat sample and rejects it for another appid', () => {
    const keys = keysFrom(V4, V4.appId);
    assert.equal(openEnvelope(keys, V4), V4.message);
    assert.equal(
      code(() => openEnvelope({ ...keys, appId: 'wx0000000000000000' }, V4)),
      CRYPTO_ERRORS.appId,
    );
  });
});

describe('crypto tamper cases', () => {
  const keys = keysFrom(V4, V4.appId);

  it('rejects every single-bit flip of the cipher text with a typed error', () => {
    const bytes = Buffer.from(V4.encrypt, 'base64');
    for (const index of [0, 15, 16, 31, 32, 100, bytes.length - 33, bytes.length - 1]) {
      const copy = Buffer.from(bytes);
      copy[index] = (copy[index] ?? 0) ^ 0x01;
      const tampered = copy.toString('base64');
      assert.ok(!verifySignature(V4.token, V4.timestamp, V4.nonce, tampered, V4.msgSignature));
      // Without the signature check, decryption itself must still refuse or yield a different message.
      const result = (() => {
        try {
          return decrypt(tampered, keys.aesKey, keys.appId);
        } catch (error) {
          assert.ok(error instanceof WeChatCryptoError);
          return undefined;
        }
      })();
      assert.notEqual(result, V4.message);
    }
  });

  it('rejects a wrong token, a wrong signature and an upper-case signature forgery alike', () => {
    assert.equal(
      code(() => openEnvelope({ ...keys, token: 'other' }, V4)),
      CRYPTO_ERRORS.signature,
    );
    assert.equal(
      code(() => openEnvelope(keys, { ...V4, msgSignature: '0'.repeat(40) })),
      CRYPTO_ERRORS.signature,
    );
    assert.equal(
      code(() => openEnvelope(keys, { ...V4, msgSignature: '' })),
      CRYPTO_ERRORS.signature,
    );
    assert.equal(openEnvelope(keys, { ...V4, msgSignature: V4.msgSignature.toUpperCase() }), V4.message);
  });

  it('rejects truncated or non-base64 Encrypt values', () => {
    assert.equal(
      code(() => decrypt(V4.encrypt.slice(0, -4), keys.aesKey, keys.appId)),
      CRYPTO_ERRORS.buffer,
    );
    assert.equal(
      code(() => decrypt(V4.encrypt.slice(0, -1), keys.aesKey, keys.appId)),
      CRYPTO_ERRORS.base64,
    );
    assert.equal(
      code(() => decrypt('not base64!!', keys.aesKey, keys.appId)),
      CRYPTO_ERRORS.base64,
    );
    assert.equal(
      code(() => decrypt('', keys.aesKey, keys.appId)),
      CRYPTO_ERRORS.base64,
    );
  });

  it('rejects bad padding: zero, over 32, and unequal pad bytes', () => {
    const body = Buffer.concat([Buffer.alloc(16, 7), Buffer.from([0, 0, 0, 2]), Buffer.from('hi'), Buffer.from(keys.appId)]);
    const withPad = (pad: Buffer) => rawEncrypt(Buffer.concat([body, pad]), keys.aesKey);
    const fill = 64 - body.length;
    assert.equal(decrypt(withPad(Buffer.alloc(fill, fill)), keys.aesKey, keys.appId), 'hi');
    assert.equal(
      code(() => decrypt(withPad(Buffer.concat([Buffer.alloc(fill - 1, fill), Buffer.from([0])])), keys.aesKey, keys.appId)),
      CRYPTO_ERRORS.decrypt,
    );
    assert.equal(
      code(() => decrypt(withPad(Buffer.concat([Buffer.alloc(fill - 1, 1), Buffer.from([33])])), keys.aesKey, keys.appId)),
      CRYPTO_ERRORS.decrypt,
    );
    assert.equal(
      code(() => decrypt(withPad(Buffer.concat([Buffer.alloc(fill - 1, 9), Buffer.from([fill])])), keys.aesKey, keys.appId)),
      CRYPTO_ERRORS.decrypt,
    );
  });

  it('rejects a huge length field instead of reading past the buffer', () => {
    const plain = Buffer.concat([Buffer.alloc(16, 1), Buffer.from([0x35, 0x0c, 0x00, 0x00]), Buffer.from('x'), Buffer.from(keys.appId)]);
    const pad = 32 - (plain.length % 32);
    const sealed = rawEncrypt(Buffer.concat([plain, Buffer.alloc(pad, pad)]), keys.aesKey);
    assert.equal(
      code(() => decrypt(sealed, keys.aesKey, keys.appId)),
      CRYPTO_ERRORS.buffer,
    );
  });

  it('round-trips binary random prefixes and multi-byte text through seal and open', () => {
    const message = '<xml><Content><![CDATA[全网发布 ✓ 🚀]]></Content></xml>';
    const sealed = sealEnvelope(keys, message, { timestamp: '1700000000', nonce: 'n0nce' });
    assert.equal(openEnvelope(keys, sealed), message);
    const aligned = 'a'.repeat(32 - ((20 + keys.appId.length) % 32));
    assert.equal(decrypt(encrypt(aligned, keys.aesKey, keys.appId), keys.aesKey, keys.appId), aligned);
  });

  it('decrypts message after message with one key exactly, whatever came before: genuine, refused or of another length', () => {
    // Prepare: one key object for every call, as a warm container holds it (the decipher is kept per key).
    const aesKey = decodeAesKey(V4.encodingAesKey);
    const messages = ['<xml/>', 'x'.repeat(1000), '中文'.repeat(77), V4.message, ''];
    const sealed = messages.map((m, i) => encrypt(m, aesKey, keys.appId, { random: Buffer.alloc(16, i) }));
    const forged = rawEncrypt(Buffer.alloc(64, 0x41), aesKey);
    // Act: each genuine message after a refused one, and twice round.
    const opened: (string | number | undefined)[] = [];
    for (const round of [0, 1]) {
      for (const [i, text] of sealed.entries()) {
        opened.push(code(() => decrypt(forged, aesKey, keys.appId)));
        opened.push(code(() => decrypt(text.slice(0, -4), aesKey, keys.appId)));
        opened.push(decrypt(text, aesKey, keys.appId) === messages[i] ? `ok ${round}.${i}` : `wrong ${round}.${i}`);
      }
    }
    // Assess
    const expected = [0, 1].flatMap((round) =>
      messages.flatMap((_, i) => [
        CRYPTO_ERRORS.decrypt,
        code(() => decrypt(sealed[i]!.slice(0, -4), decodeAesKey(V4.encodingAesKey), keys.appId)),
        `ok ${round}.${i}`,
      ]),
    );
    assert.deepEqual(opened, expected);
  });

  it('refuses base64 that only decodes leniently: URL-safe characters, white space, inner padding, non-zero pad bits', () => {
    const text = V4.encrypt;
    const bad = [
      text.replace(/\+/, '-'),
      text.replace(/\//, '_'),
      `${text.slice(0, 40)} ${text.slice(41)}`,
      `${text.slice(0, 40)}\n${text.slice(41)}`,
      `${text.slice(0, 40)}==${text.slice(42)}`,
      'QR==',
      'QUJ=',
    ];
    for (const value of bad)
      assert.equal(
        code(() => decrypt(value, keys.aesKey, keys.appId)),
        CRYPTO_ERRORS.base64,
        value.slice(36, 46),
      );
    assert.equal(decrypt(text, keys.aesKey, keys.appId), V4.message);
  });

  it('refuses EncodingAESKeys that are not 43 characters', () => {
    assert.equal(
      code(() => decodeAesKey('short')),
      CRYPTO_ERRORS.aesKey,
    );
    assert.equal(
      code(() => decodeAesKey(`${V4.encodingAesKey}A`)),
      CRYPTO_ERRORS.aesKey,
    );
    assert.equal(
      code(() => decodeAesKey(`${V4.encodingAesKey.slice(0, 42)}!`)),
      CRYPTO_ERRORS.aesKey,
    );
  });
});
