import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RejectedRequestError } from '../../../lib/kernel/errors.ts';
import { keysFrom, sealEnvelope } from '../../../lib/wechat/crypto.ts';
import { openReceived, readEnvelope, type PushQuery } from '../../../lib/wechat/envelopes.ts';
import { MAX_XML_BYTES } from '../../../lib/wechat/xml.ts';

const KEYS = keysFrom({ token: 'spamtest', encodingAesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG' }, 'wx2c2769f8efd9abc2');
const NOW_S = 1_409_735_669;
const sealed = sealEnvelope(KEYS, '<xml><a>1</a></xml>', { timestamp: String(NOW_S), nonce: '1320562132' });
const QUERY: PushQuery = { msgSignature: sealed.msgSignature, timestamp: sealed.timestamp, nonce: sealed.nonce };
const body = (inner: string) => Buffer.from(`<xml>${inner}</xml>`);
const BODY = body(`<ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[${sealed.encrypt}]]></Encrypt>`);
const OPTIONS = { nowS: NOW_S, maxSkewS: 600 };

const reasonOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    if (error instanceof RejectedRequestError) return error.reason;
    throw error;
  }
  return undefined;
};

describe('pushRequest.readEnvelope', () => {
  it('returns the envelope with the outer ids it found', () => {
    // Act
    const envelope = readEnvelope(QUERY, BODY, OPTIONS);
    // Assess
    assert.deepEqual(envelope, { ...QUERY, encrypt: sealed.encrypt, toUserName: 'gh_10f6c3c3ac5a' });
  });

  it('names each missing or malformed query parameter', () => {
    const cases: [PushQuery, string][] = [
      [{ ...QUERY, msgSignature: undefined }, 'query.msg_signature.missing'],
      [{ ...QUERY, timestamp: '' }, 'query.timestamp.missing'],
      [{ ...QUERY, nonce: undefined }, 'query.nonce.missing'],
      [{ ...QUERY, msgSignature: 'A'.repeat(39) }, 'query.msg_signature.malformed'],
      [{ ...QUERY, timestamp: '14097356x9' }, 'query.timestamp.malformed'],
      [{ ...QUERY, nonce: 'two words' }, 'query.nonce.malformed'],
      [{ ...QUERY, timestamp: `${NOW_S},${NOW_S}` }, 'query.timestamp.malformed'],
    ];
    for (const [query, reason] of cases)
      assert.equal(
        reasonOf(() => readEnvelope(query, BODY, OPTIONS)),
        reason,
      );
  });

  it('refuses a body over 64 KiB, a stale or future timestamp, and a bad Encrypt before any crypto', () => {
    assert.equal(
      reasonOf(() => readEnvelope(QUERY, Buffer.alloc(MAX_XML_BYTES + 1, 0x20), OPTIONS)),
      'body.too_large',
    );
    assert.equal(
      reasonOf(() => readEnvelope(QUERY, BODY, { nowS: NOW_S + 601, maxSkewS: 600 })),
      'timestamp.skew',
    );
    assert.equal(
      reasonOf(() => readEnvelope(QUERY, BODY, { nowS: NOW_S - 601, maxSkewS: 600 })),
      'timestamp.skew',
    );
    assert.equal(
      reasonOf(() => readEnvelope(QUERY, BODY, { nowS: NOW_S + 600, maxSkewS: 600 })),
      undefined,
    );
    assert.equal(
      reasonOf(() => readEnvelope(QUERY, body('<Encrypt></Encrypt>'), OPTIONS)),
      'envelope.Encrypt.missing',
    );
    assert.equal(
      reasonOf(() => readEnvelope(QUERY, body('<Encrypt>abc</Encrypt>'), OPTIONS)),
      'envelope.Encrypt.not_base64',
    );
    assert.equal(
      reasonOf(() => readEnvelope(QUERY, body('<Encrypt><a>x</a></Encrypt>'), OPTIONS)),
      'envelope.Encrypt.malformed',
    );
    assert.equal(
      reasonOf(() => readEnvelope(QUERY, body('<Encrypt>a</Encrypt><Encrypt>b</Encrypt>'), OPTIONS)),
      'xml.duplicate',
    );
    assert.equal(
      reasonOf(() => readEnvelope(QUERY, Buffer.from('<!DOCTYPE x><xml/>'), OPTIONS)),
      'xml.declaration',
    );
  });

  it('skips the freshness check when maxSkewS is 0', () => {
    assert.equal(
      reasonOf(() => readEnvelope(QUERY, BODY, { nowS: NOW_S + 86_400 * 365, maxSkewS: 0 })),
      undefined,
    );
  });
});

describe('pushRequest.openReceived', () => {
  it('decrypts a genuine envelope', () => {
    assert.equal(openReceived(KEYS, readEnvelope(QUERY, BODY, OPTIONS)), '<xml><a>1</a></xml>');
  });

  it('tells signature failures (reason signature.*) from decryption failures (reason decrypt.*)', () => {
    const envelope = readEnvelope(QUERY, BODY, OPTIONS);
    assert.equal(
      reasonOf(() => openReceived({ ...KEYS, token: 'other' }, envelope)),
      'signature.mismatch',
    );
    assert.equal(
      reasonOf(() => openReceived({ ...KEYS, appId: 'wx0000000000000000' }, envelope)),
      'decrypt.appId',
    );
  });
});
