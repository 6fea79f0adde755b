// Crypto pipeline: verify + decrypt + parse of a realistic ticket push (docs/protocol.md §1.4 wire form, sealed
// with the simulator credentials), ops/s, three ways in one process on identical inputs:
//   ours   — exactly the ticket function's path minus I/O: readEnvelope (query shapes, outer XML → Encrypt),
//            openReceived (msg_signature in constant time, strict AES/padding/length/appid), parseComponentPush,
//            with the keys of one long-lived secrets object, as a warm container has them (keysFrom caches
//            the decoded AES key per secrets object).
//   peer   — what a Node user would otherwise pick: node-webot's `wechat-crypto` with `xml2js` (parseString,
//            trim + explicitArray off, as the `wechat` middleware calls it) for the outer and the inner XML;
//            getSignature() compared with ===, decrypt()'s id with the appid, InfoType and ticket read.
//   floor  — bare node:crypto: sha1 of the sorted strings + aes-256-cbc decipher of the same bytes, nothing else.
// The crypto step alone (no XML) and our XML steps alone are reported too: where the pipeline's time goes.
// Rounds are interleaved (ours, peer, floor, ours, …) so drift hits every side alike; the median round counts.
import { createDecipheriv, createHash, hash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { SIMULATOR_COMPONENT } from '../infra/local/credentials.ts';
import { keysFrom, openEnvelope, sealEnvelope, type Envelope } from '../lib/wechat/crypto.ts';
import { parseComponentPush } from '../lib/wechat/component-pushes.ts';
import { openReceived, readEnvelope } from '../lib/wechat/envelopes.ts';
import { readXml } from '../lib/wechat/flat-xml.ts';
import { outerBody, ticketXml } from '../tests/helpers/wechat-push.ts';
import { median, report, round } from './lib.ts';

interface PeerCrypto {
  getSignature(timestamp: string, nonce: string, encrypt: string): string;
  decrypt(encrypt: string): { message: string; id: string };
}
const require = createRequire(import.meta.url);
const WXBizMsgCrypt = require('wechat-crypto') as new (token: string, key: string, id: string) => PeerCrypto;
const xml2js = require('xml2js') as typeof import('xml2js');

const COMMAND = 'node bench/crypto.ts';
const INPUTS = 64;
const ROUNDS = Number(process.env.BENCH_CRYPTO_ROUNDS ?? 15);
const ROUND_MS = Number(process.env.BENCH_CRYPTO_ROUND_MS ?? 250);

const { appId, token, encodingAesKey } = SIMULATOR_COMPONENT;
// One secrets object for the whole run, as a warm container's deps hold one (lib/runtime/lambda.ts).
const secrets = { token, encodingAesKey };
const keys = keysFrom(secrets, appId);
const peer = new WXBizMsgCrypt(token, encodingAesKey, appId);

// Distinct pushes, as WeChat sends them: a fresh ticket value, CreateTime, nonce and random prefix each.
interface Push {
  readonly query: { msgSignature: string; timestamp: string; nonce: string };
  readonly body: Buffer;
  readonly envelope: Envelope;
  readonly ticket: string;
  /** The decrypted inner XML, for timing the XML steps alone. */
  readonly plain: string;
}
const nowS = Math.floor(Date.now() / 1000);
const pushes: Push[] = Array.from({ length: INPUTS }, (_, i) => {
  const ticket = `ticket@@@${randomBytes(64).toString('base64url').slice(0, 86)}`;
  const inner = ticketXml({ appId, createTime: nowS - i, ticket });
  const envelope = sealEnvelope(keys, inner, { timestamp: String(nowS), nonce: String(100_000_000 + i * 7919) });
  return {
    query: { msgSignature: envelope.msgSignature, timestamp: envelope.timestamp, nonce: envelope.nonce },
    body: Buffer.from(outerBody(envelope.encrypt, appId)),
    envelope,
    ticket,
    plain: inner,
  };
});

const ticketOf = (plain: string): string => {
  const message = parseComponentPush(plain);
  if (message.infoType !== 'component_verify_ticket') throw new Error('not a ticket push');
  return message.componentVerifyTicket;
};

// The ticket function asks keysFrom for its secrets' keys on every push (lib/intake/component-push.ts); so does this.
const ours = (p: Push): string => {
  const envelope = readEnvelope(p.query, p.body, { nowS, maxSkewS: 600 });
  return ticketOf(openReceived(keysFrom(secrets, appId), envelope));
};

/** xml2js.parseString is synchronous unless `async` is set: the callback has run when it returns. */
const xml2jsRoot = (text: string): Record<string, string> => {
  let root: Record<string, string> | undefined;
  xml2js.parseString(text, { trim: true, explicitArray: false }, (error, result: { xml?: Record<string, string> }) => {
    if (error) throw error;
    root = result.xml;
  });
  if (!root) throw new Error('no <xml> root');
  return root;
};

const peerPipeline = (p: Push): string => {
  const encrypt = xml2jsRoot(p.body.toString('utf8')).Encrypt ?? '';
  if (peer.getSignature(p.query.timestamp, p.query.nonce, encrypt) !== p.query.msgSignature) throw new Error('signature');
  const { message, id } = peer.decrypt(encrypt);
  if (id !== appId) throw new Error('appid');
  const inner = xml2jsRoot(message);
  if (inner.InfoType !== 'component_verify_ticket' || !inner.ComponentVerifyTicket) throw new Error('not a ticket push');
  return inner.ComponentVerifyTicket;
};

const oursCrypto = (p: Push): string => openEnvelope(keys, p.envelope);

const peerCrypto = (p: Push): string => {
  const { encrypt, timestamp, nonce, msgSignature } = p.envelope;
  if (peer.getSignature(timestamp, nonce, encrypt) !== msgSignature) throw new Error('signature');
  const { message, id } = peer.decrypt(encrypt);
  if (id !== appId) throw new Error('appid');
  return message;
};

// Both XML steps of the pipeline and nothing else: where the rest of the time goes.
const xmlOnly = (p: Push): string => (readXml(p.body).Encrypt as string) + ticketOf(p.plain);

const iv = keys.aesKey.subarray(0, 16);
const floor = (p: Push): number => {
  const { encrypt, timestamp, nonce } = p.envelope;
  const digest = createHash('sha1').update([token, timestamp, nonce, encrypt].sort().join('')).digest('hex');
  const decipher = createDecipheriv('aes-256-cbc', keys.aesKey, iv).setAutoPadding(false);
  const plain = Buffer.concat([decipher.update(Buffer.from(encrypt, 'base64')), decipher.final()]);
  return digest.length + plain.length;
};

// The same two primitives at their cheapest in node:crypto: the one-shot hash and one decipher reused for
// every push (what lib/wechat/crypto.ts does; why that is exact is explained there). Not the target's floor.
const reused = createDecipheriv('aes-256-cbc', keys.aesKey, iv).setAutoPadding(false);
const tightFloor = (p: Push): number => {
  const { encrypt, timestamp, nonce } = p.envelope;
  const digest = hash('sha1', [token, timestamp, nonce, encrypt].sort().join(''), 'hex');
  return digest.length + reused.update(Buffer.from(encrypt, 'base64')).length;
};

// Every side must produce the right answer before it is timed.
for (const p of pushes) {
  if (ours(p) !== p.ticket || peerPipeline(p) !== p.ticket) throw new Error('pipelines disagree with the sealed ticket');
  if (!oursCrypto(p).includes(p.ticket) || !peerCrypto(p).includes(p.ticket)) throw new Error('crypto steps disagree');
}

let sink = 0;
/** Runs fn over the inputs for about `ms` and returns ops/s. */
const timed = (fn: (p: Push) => unknown, ms: number): number => {
  let ops = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (const p of pushes) {
      const out = fn(p);
      sink += typeof out === 'string' ? out.length : (out as number);
    }
    ops += pushes.length;
    elapsed = performance.now() - started;
  }
  return (ops / elapsed) * 1000;
};

const sides = { ours, peerPipeline, floor, tightFloor, oursCrypto, peerCrypto, xmlOnly } as const;
type Side = keyof typeof sides;
const samples = Object.fromEntries(Object.keys(sides).map((k) => [k, [] as number[]])) as Record<Side, number[]>;
for (const fn of Object.values(sides)) timed(fn, 1000); // warm-up: let V8 optimise every side
const order = Object.entries(sides) as [Side, (p: Push) => unknown][];
for (let round = 0; round < ROUNDS; round += 1) {
  // Odd rounds run the sides in reverse, so no side always follows the same neighbour.
  for (const [name, fn] of round % 2 === 0 ? order : [...order].reverse()) samples[name].push(timed(fn, ROUND_MS));
}
if (sink === 0) throw new Error('nothing ran');

const opsPerS = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)])) as Record<Side, number>;
// Ratios are taken per round (both sides timed back to back) and their median reported: on a shared 2-core
// machine the absolute rates drift by 2× between rounds, the paired ratio much less.
const ratio = (a: Side, b: Side): number => median(samples[a].map((v, i) => v / samples[b][i]!));
const spread = (side: Side) => `rounds ${round(Math.min(...samples[side]), 0)}–${round(Math.max(...samples[side]), 0)} ops/s`;
const setup = `${ROUNDS} interleaved rounds of ${ROUND_MS} ms after 1 s warm-up each, ${INPUTS} distinct ticket pushes, median round; load average ${loadavg()
  .map((l) => l.toFixed(1))
  .join('/')}`;

report({
  name: 'crypto pipeline: ours (verify + decrypt + parse)',
  value: round(opsPerS.ours, 0),
  unit: 'ops/s',
  command: COMMAND,
  note: `readEnvelope (query shapes, hardened outer XML → Encrypt) + openReceived (constant-time msg_signature, strict AES/padding/length/appid) + parseComponentPush; ${setup}; ${spread('ours')}`,
});
report({
  name: 'crypto pipeline: wechat-crypto + xml2js peer',
  value: round(opsPerS.peerPipeline, 0),
  unit: 'ops/s',
  command: COMMAND,
  note: `xml2js 0.6.2 parseString (outer) + wechat-crypto 0.0.2 getSignature (===) + decrypt (lenient padding, no length bound) + id check + xml2js parseString (inner), InfoType and ticket read; no query or field checks; ${spread('peerPipeline')}`,
});
report({
  name: 'crypto pipeline: node:crypto floor (sha1 + aes-256-cbc)',
  value: round(opsPerS.floor, 0),
  unit: 'ops/s',
  command: COMMAND,
  note: `sha1 of the sorted token/timestamp/nonce/Encrypt + aes-256-cbc decipher of the same base64 bytes; no XML, no checks; ${spread('floor')}`,
});
report({
  name: 'crypto pipeline: ours / peer',
  value: round(ratio('ours', 'peerPipeline')),
  unit: '×',
  target: '>= 2×',
  command: COMMAND,
  note: 'how many times faster than wechat-crypto + xml2js on the same pushes; median of per-round ratios',
});
report({
  name: 'crypto pipeline: floor / ours',
  value: round(ratio('floor', 'ours')),
  unit: '×',
  target: '<= 2×',
  command: COMMAND,
  note: 'how many times slower than bare sha1 + AES the whole pipeline is; median of per-round ratios',
});
report({
  name: 'crypto pipeline: tight node:crypto floor (one-shot sha1 + reused decipher)',
  value: round(opsPerS.tightFloor, 0),
  unit: 'ops/s',
  command: COMMAND,
  note: `crypto.hash('sha1') + one aes-256-cbc decipher reused across pushes (as lib/wechat/crypto.ts decrypts); ${spread('tightFloor')}`,
});
report({
  name: 'crypto pipeline: tight floor / ours',
  value: round(ratio('tightFloor', 'ours')),
  unit: '×',
  command: COMMAND,
  note: 'the pipeline against the cheapest node:crypto calls for the same two primitives; median of per-round ratios',
});
report({
  name: 'crypto step only: ours (openEnvelope)',
  value: round(opsPerS.oursCrypto, 0),
  unit: 'ops/s',
  command: COMMAND,
  note: `no XML: verify + decrypt of the Encrypt value; ${spread('oursCrypto')}`,
});
report({
  name: 'crypto step only: wechat-crypto peer',
  value: round(opsPerS.peerCrypto, 0),
  unit: 'ops/s',
  command: COMMAND,
  note: `no XML: getSignature + decrypt; ${spread('peerCrypto')}`,
});
report({
  name: 'crypto step only: ours / peer',
  value: round(ratio('oursCrypto', 'peerCrypto')),
  unit: '×',
  command: COMMAND,
});
report({
  name: 'crypto step only: floor / ours',
  value: round(ratio('floor', 'oursCrypto')),
  unit: '×',
  command: COMMAND,
});
report({
  name: 'crypto pipeline: XML steps alone (outer + inner)',
  value: round(opsPerS.xmlOnly, 0),
  unit: 'ops/s',
  command: COMMAND,
  note: `parseXml of the outer body + parseComponentPush of the decrypted inner XML, no crypto: ${round((100 * opsPerS.ours) / opsPerS.xmlOnly, 0)}% of the pipeline's time per push; ${spread('xmlOnly')}`,
});
