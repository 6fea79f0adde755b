// Fuzz cases for both push URLs: a genuine push (fresh ids per case), then a few mutations at the layer
// they target, each re-signed / re-encrypted where needed so the check under test is the one that decides.
// Layers, in the order a push is built: inner XML → plain text layout (random, length, appid, PKCS#7) →
// base64 Encrypt → outer XML → query and path → transport (text or base64 body, as API Gateway passes it).
// Every mutation states a verdict: 'valid' (a genuine push, must be handled), 'invalid' (must be refused
// and write nothing) or 'either' (may go either way; must still never crash or answer 5xx).
import { createCipheriv } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { computeSignature } from '../../lib/wechat/crypto.ts';
import { MAX_XML_BYTES } from '../../lib/wechat/xml.ts';
import { eventKey, messageKey } from '../../lib/store/keys.ts';
import { eventId } from '../../lib/store/events.ts';
import { messageDedupeId } from '../../lib/store/deliveries.ts';
import type { AccountMessage } from '../../lib/wechat/account-messages.ts';
import { RELEASE_TEST_ACCOUNTS } from '../../lib/release-test/replies.ts';
import { dropChar, extend, flipBits, insertAt, isUtf8, nastyString, replaceChar, type Rng } from '../helpers/fuzz.ts';
import { authorizedXml, fastRegisterXml, httpEvent, ticketXml, unauthorizedXml } from '../helpers/wechat-push.ts';
import { eventXml, textXml } from '../helpers/wechat-message.ts';

export type Verdict = 'valid' | 'invalid' | 'either';
export type Url = 'ticket' | 'message';

export interface CaseKeys {
  readonly appId: string;
  readonly token: string;
  readonly aesKey: Buffer;
}

/** What a genuine push must leave behind (checked only for 'valid' cases). */
export type Expect =
  | { readonly kind: 'ticket'; readonly ticket: string }
  | { readonly kind: 'item'; readonly pk: string; readonly sk: string; readonly body: '' | 'success' }
  | { readonly kind: 'reply'; readonly content: string }
  | { readonly kind: 'nothing' }
  /** Answered 200 (success, empty or a reply), whatever it wrote: a genuine message for an account the table does not hold as authorized. */
  | { readonly kind: 'answered' };

export interface FuzzContext {
  readonly keys: CaseKeys;
  readonly nowS: number;
  /** An authorized account on the message URL. */
  readonly ours: string;
  /** An account that revoked the component. */
  readonly gone: string;
}

interface PlainParts {
  random: Buffer;
  lengthField?: number;
  msg: Buffer;
  trailer: Buffer;
  padding?: Buffer;
}

interface Draft {
  readonly url: Url;
  readonly ctx: FuzzContext;
  expect: Expect;
  inner: Buffer;
  plain?: PlainParts;
  encrypt: string;
  outer: Buffer;
  query: Record<string, string | undefined>;
  pathAppid?: string;
  base64Body?: boolean;
}

type Stage = 'inner' | 'plain' | 'encrypt' | 'outer' | 'resign' | 'query' | 'transport';
const STAGES: readonly Stage[] = ['inner', 'plain', 'encrypt', 'outer', 'resign', 'query', 'transport'];

export interface Mutator {
  readonly name: string;
  readonly stage: Stage;
  readonly urls?: readonly Url[];
  readonly weight?: number;
  apply(draft: Draft, rng: Rng): Verdict;
}

export interface FuzzCase {
  readonly index: number;
  readonly url: Url;
  readonly base: string;
  readonly mutations: readonly string[];
  readonly verdict: Verdict;
  readonly expect: Expect;
  readonly event: APIGatewayProxyEventV2;
}

// ---- genuine pushes --------------------------------------------------------------------------------------

const hex16 = (rng: Rng): string => rng.bytes(8).toString('hex');
const appidFor = (rng: Rng): string => `wx${hex16(rng)}`;
const opaque = (prefix: string, rng: Rng): string => `${prefix}${rng.bytes(24).toString('base64url')}`;
/** CreateTime grows with the case index, so every genuine ticket is newer than the one stored before it. */
const createTimeFor = (ctx: FuzzContext, index: number): number => ctx.nowS - 200_000 + index;
const eventPk = (ctx: FuzzContext, infoType: string, authorizerAppid: string | undefined, createTime: number) =>
  eventKey(eventId({ componentAppId: ctx.keys.appId, infoType, authorizerAppid, createTime }));

type Base = { name: string; weight: number; inner: string; expect: Expect; pathAppid?: string; outer: ['AppId' | 'ToUserName', string] };

const ticketBases = (ctx: FuzzContext, rng: Rng, index: number): Base[] => {
  const appId = ctx.keys.appId;
  const createTime = createTimeFor(ctx, index);
  const authorizerAppid = appidFor(rng);
  const outer: Base['outer'] = ['AppId', appId];
  const ticket = opaque('ticket@@@', rng);
  const code = opaque('queryauthcode@@@', rng);
  const item = (infoType: string, subject: string | undefined): Expect => ({
    kind: 'item',
    ...eventPk(ctx, infoType, subject, createTime),
    body: 'success',
  });
  const fastAppid = appidFor(rng);
  return [
    { name: 'ticket', weight: 40, inner: ticketXml({ appId, createTime, ticket }), expect: { kind: 'ticket', ticket }, outer },
    {
      name: 'authorized',
      weight: 15,
      inner: authorizedXml({ appId, createTime, authorizerAppid, code, preAuthCode: opaque('preauthcode@@@', rng) }),
      expect: item('authorized', authorizerAppid),
      outer,
    },
    {
      name: 'updateauthorized',
      weight: 5,
      inner: authorizedXml({ appId, createTime, authorizerAppid, code, infoType: 'updateauthorized' }),
      expect: item('updateauthorized', authorizerAppid),
      outer,
    },
    {
      name: 'unauthorized',
      weight: 10,
      inner: unauthorizedXml({ appId, createTime, authorizerAppid }),
      expect: item('unauthorized', authorizerAppid),
      outer,
    },
    {
      name: 'fast_register',
      weight: 10,
      inner: fastRegisterXml({ appId, createTime, appid: fastAppid, authCode: code }),
      expect: item('notify_third_fasteregister', fastAppid),
      outer,
    },
    {
      name: 'unknown_info_type',
      weight: 20,
      inner: `<xml><AppId><![CDATA[${appId}]]></AppId><CreateTime>${createTime}</CreateTime><InfoType><![CDATA[notify_icpfiling_verify_result]]></InfoType><task_id>${index}</task_id></xml>`,
      expect: { kind: 'nothing' },
      outer,
    },
  ];
};

/** What users type: any language, emoji, markup characters; never a CDATA terminator (WeChat escapes it). */
const userText = (rng: Rng): string => {
  const pool = ['你好', '😀', '<b>', '&amp;', '"', "'", ' ', 'hello', '0', '\n', 'TESTCOMPONENT', ']', '[', '%'];
  return Array.from({ length: rng.between(1, 12) }, () => rng.pick(pool)).join('');
};

const markerPk = (appid: string, message: Partial<AccountMessage>) => messageKey(messageDedupeId(appid, message as AccountMessage));

const messageBases = (ctx: FuzzContext, rng: Rng, index: number): Base[] => {
  const createTime = createTimeFor(ctx, index);
  const openid = `o6_${rng.bytes(18).toString('base64url')}`;
  const msgId = String(BigInt(index) + 22_449_548_215_715_819n);
  const [testAppid, testGh] = [...RELEASE_TEST_ACCOUNTS][rng.int(RELEASE_TEST_ACCOUNTS.size)]!;
  const ourGh = 'gh_0123456789ab';
  const code = opaque('queryauthcode@@@', rng);
  return [
    {
      name: 'text',
      weight: 35,
      inner: textXml({ toUser: ourGh, fromUser: openid, createTime, content: userText(rng), msgId }),
      expect: { kind: 'item', ...markerPk(ctx.ours, { msgType: 'text', msgId }), body: 'success' },
      pathAppid: ctx.ours,
      outer: ['ToUserName', ourGh],
    },
    {
      name: 'event',
      weight: 15,
      inner: eventXml({ toUser: ourGh, fromUser: openid, createTime, event: 'CLICK', extra: '<EventKey><![CDATA[K1]]></EventKey>' }),
      expect: { kind: 'item', ...markerPk(ctx.ours, { msgType: 'event', fromUserName: openid, createTime, event: 'CLICK' }), body: 'success' },
      pathAppid: ctx.ours,
      outer: ['ToUserName', ourGh],
    },
    {
      name: 'release_text',
      weight: 20,
      inner: textXml({ toUser: testGh, fromUser: openid, createTime, content: 'TESTCOMPONENT_MSG_TYPE_TEXT', msgId }),
      expect: { kind: 'reply', content: 'TESTCOMPONENT_MSG_TYPE_TEXT_callback' },
      pathAppid: testAppid,
      outer: ['ToUserName', testGh],
    },
    {
      name: 'release_event',
      weight: 10,
      inner: eventXml({ toUser: testGh, fromUser: openid, createTime, event: 'LOCATION', extra: '<Latitude>23.1</Latitude>' }),
      expect: { kind: 'reply', content: 'LOCATIONfrom_callback' },
      pathAppid: testAppid,
      outer: ['ToUserName', testGh],
    },
    {
      name: 'release_api_text',
      weight: 20,
      inner: textXml({ toUser: testGh, fromUser: openid, createTime, content: `QUERY_AUTH_CODE:${code}`, msgId }),
      expect: { kind: 'item', ...eventPk(ctx, 'query_auth_code', testAppid, createTime), body: '' },
      pathAppid: testAppid,
      outer: ['ToUserName', testGh],
    },
  ];
};

const weighted = <T extends { weight?: number }>(items: readonly T[], rng: Rng): T => {
  const total = items.reduce((sum, i) => sum + (i.weight ?? 1), 0);
  let at = rng.next() * total;
  for (const item of items) {
    at -= item.weight ?? 1;
    if (at < 0) return item;
  }
  return items[items.length - 1]!;
};

// ---- building the wire form ------------------------------------------------------------------------------

const pkcs7 = (length: number): Buffer => {
  const pad = 32 - (length % 32);
  return Buffer.alloc(pad, pad);
};

const assemble = (p: PlainParts): Buffer => {
  const length = Buffer.alloc(4);
  length.writeUInt32BE((p.lengthField ?? p.msg.length) >>> 0, 0);
  const body = Buffer.concat([p.random, length, p.msg, p.trailer]);
  return Buffer.concat([body, p.padding ?? pkcs7(body.length)]);
};

/** AES-256-CBC with no cipher padding, as WeChat's format uses; the input must be 16-byte aligned. */
const aesRaw = (keys: CaseKeys, plain: Buffer): Buffer => {
  const aligned = plain.length % 16 === 0 ? plain : Buffer.concat([plain, Buffer.alloc(16 - (plain.length % 16), 0)]);
  const cipher = createCipheriv('aes-256-cbc', keys.aesKey, keys.aesKey.subarray(0, 16)).setAutoPadding(false);
  return Buffer.concat([cipher.update(aligned), cipher.final()]);
};

const outerXml = (name: string, value: string, encrypt: string): Buffer =>
  Buffer.from(`<xml><${name}><![CDATA[${value}]]></${name}><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`);

const sign = (d: Draft): void => {
  const { timestamp = '', nonce = '' } = d.query;
  d.query.msg_signature = computeSignature(d.ctx.keys.token, timestamp, nonce, d.encrypt);
  d.query.signature = computeSignature(d.ctx.keys.token, timestamp, nonce);
};

const toEvent = (d: Draft): APIGatewayProxyEventV2 => {
  const query = Object.fromEntries(Object.entries(d.query).filter(([, v]) => v !== undefined)) as Record<string, string>;
  const base64 = d.base64Body ?? !isUtf8(d.outer);
  const rawPath = d.url === 'ticket' ? '/wechat/component/events' : `/wechat/authorizers/${d.pathAppid ?? ''}/callback`;
  const event = httpEvent({ rawPath, query, body: base64 ? d.outer.toString('base64') : d.outer.toString('utf8'), isBase64Encoded: base64 });
  const withQuery = Object.keys(query).length > 0 ? event : { ...event, queryStringParameters: undefined };
  return d.url === 'message' ? { ...withQuery, pathParameters: d.pathAppid === undefined ? {} : { appid: d.pathAppid } } : withQuery;
};

const FIRST = new Set(['inner.unknown_info_type', 'outer.drop_id']);
const BYTE_LEVEL = /\.(invalid_utf8|utf16|utf8_bom|truncated|raw_bytes)$/;

type Snapshot = readonly [Buffer, Buffer | undefined, string, Buffer, string, boolean | undefined];
const snapshot = (d: Draft): Snapshot => [
  d.inner,
  d.plain ? assemble(d.plain) : undefined,
  d.encrypt,
  d.outer,
  JSON.stringify([d.query, d.pathAppid ?? null]),
  d.base64Body,
];
const sameAs = (a: Snapshot, b: Snapshot): boolean =>
  a[0].equals(b[0]) &&
  (a[1] === b[1] || (a[1] !== undefined && b[1] !== undefined && a[1].equals(b[1]))) &&
  a[2] === b[2] &&
  a[3].equals(b[3]) &&
  a[4] === b[4] &&
  a[5] === b[5];

/**
 * In the order applied: a later 'either' mutation may repair an earlier invalid one (a truncation that removes
 * a broken last block, a bit flip that shortens an oversized value), so the last verdict other than 'valid' wins.
 */
const combine = (verdicts: readonly Verdict[]): Verdict => verdicts.reduce<Verdict>((state, v) => (v === 'valid' ? state : v), 'valid');

/** One case: a fresh genuine push of a random kind, then `count` mutations (0 = the genuine push itself). */
export const buildCase = (url: Url, ctx: FuzzContext, rng: Rng, index: number, mutators: readonly Mutator[], count: number): FuzzCase => {
  const base = weighted(url === 'ticket' ? ticketBases(ctx, rng, index) : messageBases(ctx, rng, index), rng);
  const eligible = mutators.filter((m) => !m.urls || m.urls.includes(url));
  // By layer. Within one: removals that other mutations could target come first (so those judge the result),
  // byte-level ones last (a text-level one after them would re-encode their invalid bytes into valid UTF-8).
  const rank = (m: Mutator) => STAGES.indexOf(m.stage) * 3 + (FIRST.has(m.name) ? 0 : BYTE_LEVEL.test(m.name) ? 2 : 1);
  const picked = Array.from({ length: count }, () => weighted(eligible, rng));
  // Each mutator once: a second pick of the same one would only overwrite the first.
  const chosen = [...new Set(picked)].sort((a, b) => rank(a) - rank(b));
  const d: Draft = {
    url,
    ctx,
    expect: base.expect,
    inner: Buffer.from(base.inner),
    encrypt: '',
    outer: Buffer.alloc(0),
    query: {
      timestamp: String(ctx.nowS),
      nonce: String(rng.between(1, 2 ** 31)),
      encrypt_type: 'aes',
      ...(url === 'message' ? { openid: 'o6_fuzz' } : {}),
    },
    ...(base.pathAppid ? { pathAppid: base.pathAppid } : {}),
  };
  const verdicts: Verdict[] = [];
  const run = (stage: Stage) => {
    for (const m of chosen) {
      if (m.stage !== stage) continue;
      const before = snapshot(d);
      const verdict = m.apply(d, rng);
      // A mutation that found nothing to change (its target was already gone) leaves the push as it was.
      verdicts.push(sameAs(before, snapshot(d)) ? 'valid' : verdict);
    }
  };
  run('inner');
  d.plain = { random: rng.bytes(16), msg: d.inner, trailer: Buffer.from(ctx.keys.appId) };
  run('plain');
  d.encrypt = aesRaw(ctx.keys, assemble(d.plain)).toString('base64');
  run('encrypt');
  d.outer = outerXml(base.outer[0], base.outer[1], d.encrypt);
  run('outer');
  run('resign');
  sign(d);
  run('query');
  run('transport');
  // Whatever the mutations did, a body over 64 KiB must be refused.
  if (d.outer.length > MAX_XML_BYTES) verdicts.push('invalid');
  return { index, url, base: base.name, mutations: chosen.map((m) => m.name), verdict: combine(verdicts), expect: d.expect, event: toEvent(d) };
};

// ---- the mutators ----------------------------------------------------------------------------------------

const str = (b: Buffer): string => b.toString('utf8');
const setInner = (d: Draft, text: string | Buffer): void => {
  d.inner = typeof text === 'string' ? Buffer.from(text) : text;
};
const setOuter = (d: Draft, text: string | Buffer): void => {
  d.outer = typeof text === 'string' ? Buffer.from(text) : text;
};

/** Top-level element names of a WeChat XML document (they are bare words). */
const elementNames = (xml: string): string[] => [...xml.matchAll(/<([A-Za-z_][\w.]*)>/g)].map((m) => m[1]!).filter((n) => n !== 'xml');

const KNOWN_INFO_TYPES =
  /<InfoType>\s*(<!\[CDATA\[)?(component_verify_ticket|authorized|updateauthorized|unauthorized|notify_third_fasteregister)(\]\]>)?\s*<\/InfoType>/;
/** An InfoType we do not handle is acknowledged as long as AppId and InfoType are sound (CreateTime is optional). */
const unknownInfoType = (d: Draft): boolean => d.url === 'ticket' && !KNOWN_INFO_TYPES.test(str(d.inner));

const requiredFields = (d: Draft): string[] => {
  const names = elementNames(str(d.inner));
  if (unknownInfoType(d)) return names.filter((n) => n === 'AppId' || n === 'InfoType');
  if (d.url === 'message')
    return names.filter((n) => ['ToUserName', 'FromUserName', 'CreateTime', 'MsgType', 'MsgId', 'Content', 'Event'].includes(n));
  return names.filter((n) =>
    [
      'AppId',
      'CreateTime',
      'InfoType',
      'ComponentVerifyTicket',
      'AuthorizerAppid',
      'AuthorizationCode',
      'AuthorizationCodeExpiredTime',
      'status',
      'appid',
      'auth_code',
    ].includes(n),
  );
};

/** Whether the message still needs `name`: MsgId, Content and Event matter only for the MsgType that has them. */
const needed = (d: Draft, name: string): boolean => {
  if (d.url === 'ticket' || !['MsgId', 'Content', 'Event'].includes(name)) return true;
  const msgType = str(d.inner).match(/<MsgType>\s*(?:<!\[CDATA\[)?\s*([^<\]\s]*)/)?.[1];
  if (name === 'Event') return msgType === 'event';
  if (name === 'Content') return msgType === 'text';
  return msgType !== undefined && ['text', 'image', 'voice', 'video', 'shortvideo', 'location', 'link', 'file', 'miniprogrampage'].includes(msgType);
};

const BILLION_LAUGHS =
  '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
  '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>';
const EXTERNAL = '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>';
const PARAMETER = '<!DOCTYPE xml [<!ENTITY % remote SYSTEM "http://127.0.0.1:1/evil.dtd"> %remote;]>';
const RESERVED = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf', '__defineGetter__'];

/** XML-structure mutations, for the outer envelope and the inner push alike. */
const structural = (layer: 'inner' | 'outer'): Mutator[] => {
  const get = (d: Draft) => str(layer === 'inner' ? d.inner : d.outer);
  const set = (d: Draft, text: string | Buffer) => (layer === 'inner' ? setInner(d, text) : setOuter(d, text));
  const m = (name: string, weight: number, apply: Mutator['apply']): Mutator => ({ name: `${layer}.${name}`, stage: layer, weight, apply });
  const afterRoot = (x: string, insert: string) => x.replace('<xml>', `<xml>${insert}`);
  return [
    m('comment', 3, (d, rng) => (set(d, get(d).replace('<xml>', rng.pick(['<!-- c --><xml>', '<xml><!-- a - b -->', '<xml><!---->']))), 'valid')),
    m('whitespace', 2, (d) => (set(d, get(d).replaceAll('><', '>\n\t <')), 'valid')),
    // After a byte order mark, if there is one: anything before the declaration makes it a misplaced PI.
    m('declaration', 2, (d) => (set(d, get(d).replace(/^(\uFEFF?)/, '$1<?xml version="1.0" encoding="UTF-8"?>\n')), 'valid')),
    m('processing_instruction', 2, (d) => (set(d, afterRoot(get(d), '<?php echo 1; ?>')), 'either')),
    m('utf8_bom', 2, (d) => (set(d, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), layer === 'inner' ? d.inner : d.outer])), 'valid')),
    m('attributes', 2, (d) => (set(d, get(d).replace('<xml>', '<xml lang="zh" xmlns:x="urn:x">')), 'valid')),
    m(
      'unknown_element',
      2,
      (d, rng) => (set(d, afterRoot(get(d), `<Extra><![CDATA[${nastyString(rng).replaceAll(']]>', '')}]]></Extra>`)), 'either'),
    ),
    m('nested_unknown', 2, (d) => (set(d, afterRoot(get(d), '<a><b><c><d>deep</d></c></b></a>')), 'valid')),
    m('doctype', 3, (d) => (set(d, `<!DOCTYPE xml>${get(d)}`), 'invalid')),
    m('billion_laughs', 3, (d) => (set(d, BILLION_LAUGHS + get(d).replace('<xml>', '<xml><Lol>&lol4;</Lol>')), 'invalid')),
    m('external_entity', 3, (d) => (set(d, EXTERNAL + get(d).replace('<xml>', '<xml><Leak>&xxe;</Leak>')), 'invalid')),
    m('parameter_entity', 1, (d) => (set(d, PARAMETER + get(d)), 'invalid')),
    m('entity_reference', 1, (d) => (set(d, afterRoot(get(d), '<Ref>&amp;&lt;&#x41;&#0;&bogus;</Ref>')), 'either')),
    m('unclosed', 3, (d, rng) => {
      const x = get(d);
      const closes = [...x.matchAll(/<\/[A-Za-z_]+>/g)];
      const hit = closes.length > 0 ? rng.pick(closes) : undefined;
      set(d, hit ? x.slice(0, hit.index) + x.slice(hit.index! + hit[0].length) : `${x}<`);
      return 'invalid';
    }),
    m('mismatched_close', 2, (d) => (set(d, get(d).replace('</xml>', '</XML>')), 'invalid')),
    m('two_roots', 2, (d) => (set(d, `${get(d)}<xml></xml>`), 'invalid')),
    m('other_root', 2, (d) => (set(d, get(d).replace('<xml', '<root').replace('</xml>', '</root>')), 'invalid')),
    m(
      'truncated',
      3,
      (d, rng) => (set(d, (layer === 'inner' ? d.inner : d.outer).subarray(0, rng.int((layer === 'inner' ? d.inner : d.outer).length))), 'invalid'),
    ),
    m('empty', 1, (d) => (set(d, ''), 'invalid')),
    m('not_xml', 1, (d, rng) => (set(d, rng.pick(['null', '{"xml":{}}', 'success', '<', '<xml>', '<?xml?>', '\u0000\u0000'])), 'invalid')),
    m('utf16', 2, (d, rng) => {
      const le = rng.bool();
      const bom = rng.bool() ? Buffer.from(le ? [0xff, 0xfe] : [0xfe, 0xff]) : Buffer.alloc(0);
      const body = Buffer.from(get(d), 'utf16le');
      if (!le) body.swap16();
      set(d, Buffer.concat([bom, body]));
      return 'invalid';
    }),
    m('invalid_utf8', 2, (d, rng) => {
      const x = layer === 'inner' ? d.inner : d.outer;
      const at = rng.int(x.length + 1);
      set(
        d,
        Buffer.concat([
          x.subarray(0, at),
          Buffer.from(rng.pick([[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80]])),
          x.subarray(at),
        ]),
      );
      // Inside the cipher text the bytes decode with replacement characters and may still form a push.
      return layer === 'outer' ? 'invalid' : 'either';
    }),
    m('deep_nesting', 2, (d, rng) => {
      const depth = rng.pick([7, 8, 50, 5000]);
      set(d, afterRoot(get(d), `${'<n>'.repeat(depth)}x${'</n>'.repeat(depth)}`));
      return 'invalid';
    }),
    m('reserved_name', 3, (d, rng) => {
      const name = rng.pick(RESERVED);
      const nested = rng.bool() ? `<${name}><polluted>yes</polluted></${name}>` : `<${name}>yes</${name}>`;
      set(d, afterRoot(get(d), nested));
      return 'either';
    }),
    m('many_tags', 1, (d) => (set(d, afterRoot(get(d), '<t>1</t>'.repeat(250))), 'invalid')),
    m('long_tag', 1, (d) => (set(d, afterRoot(get(d), `<T${'a'.repeat(300)}>1</T${'a'.repeat(300)}>`)), 'invalid')),
    m('cdata_edge', 3, (d, rng) => {
      const variant = rng.pick(['empty', 'split', 'nested', 'unterminated', 'bracket']);
      const x = get(d);
      // The last terminator: with an earlier one removed, a later section could close the CDATA again.
      if (variant === 'unterminated')
        return x.includes(']]>') ? (set(d, x.slice(0, x.lastIndexOf(']]>')) + x.slice(x.lastIndexOf(']]>') + 3)), 'invalid') : 'valid';
      if (variant === 'empty') return (set(d, afterRoot(x, '<E><![CDATA[]]></E>')), 'either');
      if (variant === 'nested') return (set(d, afterRoot(x, '<E><![CDATA[<![CDATA[x]]]]><![CDATA[>]]></E>')), 'either');
      if (variant === 'bracket') return (set(d, afterRoot(x, '<E>]]&gt;</E>')), 'either');
      // Splits the first CDATA value in two sections: the same text for a conforming reader.
      return (set(d, x.replace(/<!\[CDATA\[([^\]]{2,}?)([^\]]*)\]\]>/, '<![CDATA[$1]]><![CDATA[$2]]>')), 'either');
    }),
  ];
};

const innerOnly: Mutator[] = [
  {
    name: 'inner.drop_required',
    stage: 'inner',
    weight: 4,
    apply: (d, rng) => {
      const names = requiredFields(d);
      if (names.length === 0) return 'valid';
      const name = rng.pick(names);
      setInner(d, str(d.inner).replace(new RegExp(`<${name}>[\\s\\S]*?</${name}>`, 'g'), ''));
      return needed(d, name) ? 'invalid' : 'either';
    },
  },
  {
    name: 'inner.duplicate_required',
    stage: 'inner',
    weight: 3,
    apply: (d, rng) => {
      const names = requiredFields(d);
      if (names.length === 0) return 'valid';
      const name = rng.pick(names);
      const match = str(d.inner).match(new RegExp(`<${name}>[\\s\\S]*?</${name}>`));
      if (!match) return 'valid';
      setInner(d, str(d.inner).replace(match[0], match[0] + match[0]));
      return needed(d, name) ? 'invalid' : 'either';
    },
  },
  {
    name: 'inner.wrong_appid',
    stage: 'inner',
    urls: ['ticket'],
    weight: 2,
    apply: (d, rng) => (
      setInner(d, str(d.inner).replace(d.ctx.keys.appId, rng.pick(['wx0000000000000000', d.ctx.keys.appId.toUpperCase(), '']))), 'invalid'
    ),
  },
  {
    name: 'inner.bad_create_time',
    stage: 'inner',
    weight: 2,
    apply: (d, rng) => {
      const bad = rng.pick(['', '-1', '1e9', '12345678901234', 'NaN', '１２３', ' 0x10 ', '1.5']);
      setInner(d, str(d.inner).replace(/<CreateTime>[^<]*<\/CreateTime>/, `<CreateTime>${bad}</CreateTime>`));
      return unknownInfoType(d) ? 'valid' : 'invalid';
    },
  },
  {
    name: 'inner.oversized_value',
    stage: 'inner',
    weight: 1,
    apply: (d, rng) => {
      const names = requiredFields(d).filter((n) => !['Content'].includes(n));
      if (names.length === 0) return 'valid';
      const name = rng.pick(names);
      setInner(d, str(d.inner).replace(new RegExp(`<${name}>[\\s\\S]*?</${name}>`), `<${name}>${'A'.repeat(rng.pick([1025, 30_000]))}</${name}>`));
      // Component pushes bound every field (1 KiB); messages bound only the body size.
      return d.url === 'ticket' ? 'invalid' : 'either';
    },
  },
  {
    name: 'inner.size',
    stage: 'inner',
    weight: 1,
    // Near the outer limit: 48 KiB of plain text is 64 KiB of base64. Either side of it is fine, never a crash.
    apply: (d, rng) => (setInner(d, str(d.inner).replace('</xml>', `<!--${'p'.repeat(rng.between(40_000, 52_000))}--></xml>`)), 'either'),
  },
  {
    name: 'inner.unknown_info_type',
    stage: 'inner',
    urls: ['ticket'],
    weight: 1,
    apply: (d) => {
      setInner(d, str(d.inner).replace(/<InfoType>[\s\S]*?<\/InfoType>/, '<InfoType>notify_something_new</InfoType>'));
      d.expect = { kind: 'nothing' };
      return 'valid';
    },
  },
  {
    name: 'inner.bad_info_type',
    stage: 'inner',
    urls: ['ticket'],
    weight: 1,
    apply: (d, rng) => (
      setInner(
        d,
        str(d.inner).replace(
          /<InfoType>[\s\S]*?<\/InfoType>/,
          `<InfoType>${rng.pick(['', 'a b', 'x'.repeat(65), '<![CDATA[__proto__]]>'])}</InfoType>`,
        ),
      ),
      'either'
    ),
  },
];

const plainMutators: Mutator[] = [
  {
    name: 'plain.random_prefix',
    stage: 'plain',
    weight: 1,
    apply: (d, rng) => ((d.plain!.random = Buffer.alloc(16, rng.pick([0, 0xff, 0x20, 0x3c]))), 'valid'),
  },
  {
    name: 'plain.length_field',
    stage: 'plain',
    weight: 4,
    apply: (d, rng) => {
      const len = d.plain!.msg.length;
      const bad = rng.pick([
        len + 1,
        len - 1,
        len + d.plain!.trailer.length + 1,
        0,
        0xffffffff,
        0x7fffffff,
        2 ** 31,
        len + rng.between(2, 4096),
        Math.max(0, len - rng.between(2, 64)),
      ]);
      if (bad === len) return 'valid';
      d.plain!.lengthField = bad;
      return 'invalid';
    },
  },
  {
    name: 'plain.trailing_appid',
    stage: 'plain',
    weight: 4,
    apply: (d, rng) => {
      const appId = d.ctx.keys.appId;
      d.plain!.trailer = Buffer.from(
        rng.pick(['', 'wx0000000000000000', appId.toUpperCase(), `${appId}x`, `${appId}\u0000`, appId.slice(1), `x${appId}`, 'wxc736b9251b3c6c41']),
      );
      return 'invalid';
    },
  },
  {
    name: 'plain.padding',
    stage: 'plain',
    weight: 5,
    apply: (d, rng) => {
      const p = d.plain!;
      const unpadded = 16 + 4 + p.msg.length + p.trailer.length;
      const right = pkcs7(unpadded);
      const n = right.length;
      const variant = rng.pick(['zero', 'over32', 'inconsistent', 'none', 'block16', 'extra_block']);
      if (variant === 'zero') p.padding = Buffer.alloc(n, 0);
      else if (variant === 'over32') p.padding = Buffer.alloc(n, rng.pick([33, 64, 255]));
      else if (variant === 'inconsistent') p.padding = n < 2 ? Buffer.from([0]) : Buffer.concat([Buffer.from([n ^ 1]), Buffer.alloc(n - 1, n)]);
      else if (variant === 'none') p.padding = Buffer.alloc(0);
      else if (variant === 'block16') p.padding = Buffer.alloc(16 - (unpadded % 16), 16 - (unpadded % 16));
      else p.padding = Buffer.concat([right, Buffer.alloc(32, 32)]);
      // Padding to 16 is right when it happens to coincide with padding to 32.
      return p.padding.equals(right) ? 'valid' : 'invalid';
    },
  },
];

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const cipherBytes = (d: Draft) => Buffer.from(d.encrypt, 'base64');
const alignedBlocks = (b64: string) => /^[A-Za-z0-9+/]+={0,2}$/.test(b64) && b64.length % 4 === 0 && Buffer.from(b64, 'base64').length % 32 === 0;

const encryptMutators: Mutator[] = [
  {
    name: 'encrypt.bit_flip',
    stage: 'encrypt',
    weight: 5,
    apply: (d, rng) => ((d.encrypt = flipBits(cipherBytes(d), rng, rng.between(1, 3)).toString('base64')), 'either'),
  },
  {
    name: 'encrypt.truncate_chars',
    stage: 'encrypt',
    weight: 3,
    apply: (d, rng) => {
      d.encrypt = d.encrypt.slice(0, rng.int(d.encrypt.length));
      return alignedBlocks(d.encrypt) ? 'either' : 'invalid';
    },
  },
  {
    name: 'encrypt.truncate_block',
    stage: 'encrypt',
    weight: 1,
    apply: (d) => ((d.encrypt = cipherBytes(d).subarray(0, -32).toString('base64')), 'either'),
  },
  {
    name: 'encrypt.extend',
    stage: 'encrypt',
    weight: 3,
    apply: (d, rng) => {
      d.encrypt = (rng.bool() ? Buffer.concat([cipherBytes(d), rng.bytes(32)]) : extend(cipherBytes(d), rng, 40)).toString('base64');
      return alignedBlocks(d.encrypt) ? 'either' : 'invalid';
    },
  },
  {
    name: 'encrypt.bad_char',
    stage: 'encrypt',
    weight: 3,
    apply: (d, rng) => {
      const before = d.encrypt;
      // Interior only: leading/trailing white space is trimmed by the reader and then fails the signature anyway.
      const at = rng.between(1, Math.max(1, before.length - 2));
      d.encrypt = before.slice(0, at) + rng.pick(['*', '-', '_', ' ', '\n', '%', '.', '\u00e9', '=', '中']) + before.slice(at + 1);
      return 'invalid';
    },
  },
  {
    name: 'encrypt.padding_chars',
    stage: 'encrypt',
    weight: 2,
    apply: (d, rng) => {
      const variant = rng.pick(['strip', 'add', 'triple', 'middle']);
      const stripped = d.encrypt.replace(/=+$/, '');
      if (variant === 'strip') d.encrypt = stripped;
      else if (variant === 'add') d.encrypt = `${d.encrypt}=`;
      else if (variant === 'triple') d.encrypt = `${stripped.slice(0, -1)}===`;
      else d.encrypt = insertAt(d.encrypt, rng, '==');
      return alignedBlocks(d.encrypt) ? 'either' : 'invalid';
    },
  },
  {
    name: 'encrypt.url_safe',
    stage: 'encrypt',
    weight: 1,
    apply: (d) => {
      const before = d.encrypt;
      d.encrypt = before.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
      return d.encrypt === before ? 'valid' : 'invalid';
    },
  },
  {
    name: 'encrypt.random_base64',
    stage: 'encrypt',
    weight: 2,
    apply: (d, rng) => ((d.encrypt = rng.bytes(rng.pick([0, 16, 32, 64, 96])).toString('base64')), 'invalid'),
  },
  {
    name: 'encrypt.char_swap',
    stage: 'encrypt',
    weight: 2,
    apply: (d, rng) => ((d.encrypt = replaceChar(d.encrypt.slice(0, -4), rng, BASE64_ALPHABET) + d.encrypt.slice(-4)), 'either'),
  },
];

const outerOnly: Mutator[] = [
  {
    name: 'outer.drop_id',
    stage: 'outer',
    weight: 2,
    apply: (d) => (setOuter(d, str(d.outer).replace(/<(AppId|ToUserName)>[\s\S]*?<\/\1>/, '')), 'valid'),
  },
  {
    name: 'outer.wrong_appid',
    stage: 'outer',
    weight: 2,
    apply: (d) => {
      const before = str(d.outer);
      setOuter(d, before.replace(/<(AppId|ToUserName)><!\[CDATA\[[^\]]*\]\]>/, '<$1><![CDATA[wx0000000000000000]]>'));
      // Only the event URL's outer AppId names the component; the message URL's ToUserName is not ours to check.
      return d.url === 'ticket' && str(d.outer) !== before ? 'invalid' : 'valid';
    },
  },
  {
    name: 'outer.reorder',
    stage: 'outer',
    weight: 1,
    apply: (d) => (
      setOuter(d, str(d.outer).replace(/<xml>(<(AppId|ToUserName)>[\s\S]*?<\/\2>)(<Encrypt>[\s\S]*?<\/Encrypt>)/, '<xml>$3$1')), 'valid'
    ),
  },
  {
    name: 'outer.plain_text_encrypt',
    stage: 'outer',
    weight: 2,
    apply: (d) => (setOuter(d, str(d.outer).replace(/<Encrypt><!\[CDATA\[([^\]]*)\]\]><\/Encrypt>/, '<Encrypt>$1</Encrypt>')), 'valid'),
  },
  {
    name: 'outer.padded_encrypt',
    stage: 'outer',
    weight: 1,
    apply: (d) => (
      setOuter(d, str(d.outer).replace('<Encrypt><![CDATA[', '<Encrypt>\n  <![CDATA[').replace(']]></Encrypt>', ']]>\n</Encrypt>')), 'valid'
    ),
  },
  {
    name: 'outer.duplicate_encrypt',
    stage: 'outer',
    weight: 3,
    apply: (d) => (setOuter(d, str(d.outer).replace(/(<Encrypt>[\s\S]*?<\/Encrypt>)/, '$1$1')), 'invalid'),
  },
  {
    name: 'outer.second_encrypt',
    stage: 'outer',
    weight: 1,
    apply: (d) => (setOuter(d, str(d.outer).replace('</xml>', '<Encrypt><![CDATA[AAAA]]></Encrypt></xml>')), 'invalid'),
  },
  {
    name: 'outer.missing_encrypt',
    stage: 'outer',
    weight: 2,
    apply: (d) => (setOuter(d, str(d.outer).replace(/<Encrypt>[\s\S]*?<\/Encrypt>/g, '')), 'invalid'),
  },
  {
    name: 'outer.self_closing_encrypt',
    stage: 'outer',
    weight: 1,
    apply: (d) => (setOuter(d, str(d.outer).replace(/<Encrypt>[\s\S]*?<\/Encrypt>/, '<Encrypt/>')), 'invalid'),
  },
  {
    name: 'outer.nested_encrypt',
    stage: 'outer',
    weight: 1,
    apply: (d) => (setOuter(d, str(d.outer).replace('<Encrypt>', '<Encrypt><x>').replace('</Encrypt>', '</x></Encrypt>')), 'invalid'),
  },
  {
    name: 'outer.entity_in_encrypt',
    stage: 'outer',
    weight: 1,
    apply: (d) => (
      setOuter(
        d,
        str(d.outer)
          .replace(/<Encrypt><!\[CDATA\[(.)/, '<Encrypt>&#65;$1')
          .replace(']]></Encrypt>', '</Encrypt>'),
      ),
      'invalid'
    ),
  },
  {
    name: 'outer.size',
    stage: 'outer',
    weight: 3,
    apply: (d, rng) => {
      const target = rng.pick([65_535, 65_536, 65_537, 1_048_576, 70_000]);
      const filler = Math.max(0, target - d.outer.length - '<!---->'.length);
      setOuter(d, str(d.outer).replace('</xml>', `<!--${' '.repeat(filler)}--></xml>`));
      // Judged on the final body (buildCase): a later mutation may still shrink or grow it across the limit.
      return 'valid';
    },
  },
  { name: 'outer.raw_bytes', stage: 'outer', weight: 1, apply: (d, rng) => (setOuter(d, rng.bytes(rng.pick([1, 100, 4096]))), 'invalid') },
];

const resignMutators: Mutator[] = [
  {
    name: 'query.timestamp_resigned',
    stage: 'resign',
    weight: 4,
    apply: (d, rng) => {
      const now = d.ctx.nowS;
      const [value, verdict]: [string | undefined, Verdict] = rng.pick<[string | undefined, Verdict]>([
        [String(now - 599), 'valid'],
        [String(now + 599), 'valid'],
        [String(now - 601), 'invalid'],
        [String(now + 601), 'invalid'],
        [String(now - 86_400 * 365), 'invalid'],
        ['0', 'invalid'],
        ['', 'invalid'],
        [undefined, 'invalid'],
        ['-1', 'invalid'],
        [`${now}.0`, 'invalid'],
        [` ${now}`, 'invalid'],
        ['1'.repeat(13), 'invalid'],
        ['１２３', 'invalid'],
        ['0x10', 'invalid'],
      ]);
      d.query.timestamp = value;
      return verdict;
    },
  },
  {
    name: 'query.nonce_resigned',
    stage: 'resign',
    weight: 3,
    apply: (d, rng) => {
      const [value, verdict]: [string | undefined, Verdict] = rng.pick<[string | undefined, Verdict]>([
        ['n'.repeat(64), 'valid'],
        ['!~%00<>&', 'valid'],
        ['n'.repeat(65), 'invalid'],
        ['', 'invalid'],
        [undefined, 'invalid'],
        ['a b', 'invalid'],
        ['中文', 'invalid'],
        ['\u0000', 'invalid'],
      ]);
      d.query.nonce = value;
      return verdict;
    },
  },
];

const queryMutators: Mutator[] = [
  {
    name: 'query.signature',
    stage: 'query',
    weight: 6,
    apply: (d, rng) => {
      const sig = d.query.msg_signature ?? '';
      const token = d.ctx.keys.token;
      const { timestamp = '', nonce = '' } = d.query;
      const [value, verdict]: [string | undefined, Verdict] = rng.pick<[string | undefined, Verdict]>([
        [replaceChar(sig, rng, '0123456789abcdef'), 'either'],
        [sig.toUpperCase(), 'valid'],
        [sig.slice(0, 39), 'invalid'],
        [`${sig}0`, 'invalid'],
        ['', 'invalid'],
        [undefined, 'invalid'],
        ['g'.repeat(40), 'invalid'],
        [d.query.signature, 'invalid'],
        [computeSignature(token, timestamp, nonce, `${d.encrypt}A`), 'invalid'],
        [computeSignature(`${token}x`, timestamp, nonce, d.encrypt), 'invalid'],
        [`${sig},${sig}`, 'invalid'],
        [dropChar(sig, rng), 'invalid'],
      ]);
      d.query.msg_signature = value;
      // A replaced hex digit can land on the same digit.
      return value === sig ? 'valid' : verdict === 'either' ? 'invalid' : verdict;
    },
  },
  {
    name: 'query.unsigned_change',
    stage: 'query',
    weight: 2,
    apply: (d, rng) => {
      const key = rng.pick(['timestamp', 'nonce']);
      d.query[key] = `${d.query[key] ?? ''}1`;
      return 'invalid';
    },
  },
  {
    name: 'query.extra_params',
    stage: 'query',
    weight: 1,
    apply: (d, rng) => {
      d.query.signature = rng.pick(['', 'x', '0'.repeat(40)]);
      d.query.encrypt_type = rng.pick(['raw', '', 'aes']);
      d.query.__proto__x = 'y';
      // biome-ignore lint/complexity/useLiteralKeys: the fuzz case is a query key named like an Object property
      d.query['constructor'] = 'z';
      return 'valid';
    },
  },
  {
    name: 'path.appid',
    stage: 'query',
    urls: ['message'],
    weight: 4,
    apply: (d, rng) => {
      const value = rng.pick([
        undefined,
        '',
        'wx123',
        `${d.ctx.ours}/../x`,
        '__proto__',
        'constructor',
        '../../etc/passwd',
        d.ctx.ours.toUpperCase(),
      ]);
      if (value === undefined) delete d.pathAppid;
      else d.pathAppid = value;
      return 'invalid';
    },
  },
  {
    // A well-formed appid of an account the table does not hold as authorized: still WeChat's message, so answered.
    name: 'path.other_account',
    stage: 'query',
    urls: ['message'],
    weight: 2,
    apply: (d, rng) => {
      // Only over a genuine path: an appid another mutator already broke stays broken.
      if (!/^wx[0-9a-f]{16}$/.test(d.pathAppid ?? '')) return 'valid';
      d.pathAppid = rng.pick(['wx0000000000000000', d.ctx.gone]);
      d.expect = { kind: 'answered' };
      return 'valid';
    },
  },
];

const transportMutators: Mutator[] = [{ name: 'transport.base64', stage: 'transport', weight: 2, apply: (d) => ((d.base64Body = true), 'valid') }];

/** Every mutator, for both URLs (each says where it applies). */
export const MUTATORS: readonly Mutator[] = [
  ...structural('inner'),
  ...innerOnly,
  ...plainMutators,
  ...encryptMutators,
  ...structural('outer'),
  ...outerOnly,
  ...resignMutators,
  ...queryMutators,
  ...transportMutators,
];
