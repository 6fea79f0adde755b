// Crypto pipeline: verify + decrypt + parse of a realistic ticket push (docs/protocol.md §1.4 wire form, sealed
// with the simulator credentials), ops/s, three ways in one process on identical inputs:
//   ours   — exactly the ticket function's path minus I/O: readEnvelope (query shapes, outer XML → Encrypt),
//            openReceived (msg_signature in constant time, strict AES/padding/length/appid), parseComponentPush.
//   peer   — `wechat-crypto` (node-webot) for the crypto step, wrapped in the SAME outer and inner XML steps
//            (parseXml → Encrypt, parseComponentPush) so only the crypto differs; its getSignature() is
//            compared with ===, its decrypt() result's id with the appid, as its README shows.
//   floor  — bare node:crypto: sha1 of the sorted strings + aes-256-cbc decipher of the same bytes, nothing else.
// The crypto step alone (no XML) is reported too, because on identical XML steps the parser dominates both.
// Rounds are interleaved (ours, peer, floor, ours, …) so drift hits every side alike; the median round counts.
import { createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { SIMULATOR_COMPONENT } from '../infra/local/credentials.ts';
import { keysFrom, openEnvelope, sealEnvelope, type Envelope } from '../lib/wechat/crypto.ts';
import { parseComponentPush } from '../lib/wechat/component-pushes.ts';
import { openReceived, readEnvelope } from '../lib/wechat/envelopes.ts';
import { parseXml } from '../lib/wechat/xml.ts';
import { outerBody, ticketXml } from '../tests/helpers/wechat-push.ts';
import { median, report, round } from './lib.ts';

interface PeerCrypto {
  getSignature(timestamp: string, nonce: string, encrypt: string): string;
  decrypt(encrypt: string): { message: string; id: string };
}
const WXBizMsgCrypt = createRequire(import.meta.url)('wechat-crypto') as new (token: string, key: string, id: string) => PeerCrypto;

const COMMAND = 'node bench/crypto.ts';
const INPUTS = 64;
const ROUNDS = Number(process.env.BENCH_CRYPTO_ROUNDS ?? 15);
const ROUND_MS = Number(process.env.BENCH_CRYPTO_ROUND_MS ?? 250);

const { appId, token, encodingAesKey } = SIMULATOR_COMPONENT;
const keys = keysFrom({ token, encodingAesKey }, appId);
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

// The ticket function derives the keys from its secrets on every push (lib/intake/component-push.ts); so does this.
const ours = (p: Push): string => {
  const envelope = readEnvelope(p.query, p.body, { nowS, maxSkewS: 600 });
  return ticketOf(openReceived(keysFrom({ token, encodingAesKey }, appId), envelope));
};

const peerPipeline = (p: Push): string => {
  const outer = parseXml(p.body);
  const encrypt = outer.Encrypt as string;
  if (peer.getSignature(p.query.timestamp, p.query.nonce, encrypt) !== p.query.msgSignature) throw new Error('signature');
  const { message, id } = peer.decrypt(encrypt);
  if (id !== appId) throw new Error('appid');
  return ticketOf(message);
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
const xmlOnly = (p: Push): string => (parseXml(p.body).Encrypt as string) + ticketOf(p.plain);

const iv = keys.aesKey.subarray(0, 16);
const floor = (p: Push): number => {
  const { encrypt, timestamp, nonce } = p.envelope;
  const digest = createHash('sha1').update([token, timestamp, nonce, encrypt].sort().join('')).digest('hex');
  const decipher = createDecipheriv('aes-256-cbc', keys.aesKey, iv).setAutoPadding(false);
  const plain = Buffer.concat([decipher.update(Buffer.from(encrypt, 'base64')), decipher.final()]);
  return digest.length + plain.length;
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

const sides = { ours, peerPipeline, floor, oursCrypto, peerCrypto, xmlOnly } as const;
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
  name: 'crypto pipeline: wechat-crypto peer (same XML steps)',
  value: round(opsPerS.peerPipeline, 0),
  unit: 'ops/s',
  command: COMMAND,
  note: `wechat-crypto 0.0.2 getSignature (===) + decrypt (lenient padding, no length bound) + id check, wrapped in our parseXml (outer) and parseComponentPush (inner); ${spread('peerPipeline')}`,
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
  note: 'same inputs, same XML steps on both sides: only the crypto differs; median of per-round ratios',
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
