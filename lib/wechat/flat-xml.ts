// The strict reader for the fixed-shape documents WeChat sends flat (docs/protocol.md §1.3): the outer envelope
// of every push and the decrypted push or message itself, an `<xml>` root whose children each hold plain text
// or one CDATA section. One pass over the text with indexOf and charCodeAt: no regular expression, no tree,
// no second pass. It accepts exactly that shape and refuses outright what no genuine push carries: a DOCTYPE
// or other declaration, an entity or character reference, a repeated name, a name that could reach
// Object.prototype, invalid UTF-8, more than 64 KiB, a malformed or mismatched tag.
// Legal XML that is merely not flat — nesting (fast registration's `<info>`), attributes, comments, processing
// instructions, an XML declaration, self-closing or split elements — goes to the hardened general parser
// (xml.ts) instead, which reads it exactly as it always has: readXml below is the one entry point.
import { isAscii } from 'node:buffer';
import { MAX_TAG_LENGTH, MAX_XML_BYTES, MAX_XML_TAGS, parseXml, XmlError, type XmlRecord } from './xml.ts';

const LT = 0x3c; // <
const GT = 0x3e; // >
const SLASH = 0x2f;
const BANG = 0x21;
const QUESTION = 0x3f;
const CDATA_OPEN = '<![CDATA[';
const CDATA_CLOSE = ']]>';
const ROOT_OPEN = '<xml>';
const ROOT_CLOSE = '</xml>';
const CARRIAGE_RETURNS = /\r\n?/g;

/** The document is not of the flat shape; the general parser decides. */
const NOT_FLAT = Symbol('not flat');

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

const decode = (input: string | Buffer): string => {
  if (typeof input !== 'string') {
    if (input.length > MAX_XML_BYTES) throw new XmlError('too_large', `more than ${MAX_XML_BYTES} bytes`);
    // An envelope is ASCII throughout (base64, ids): then every byte is its character, nothing to validate.
    if (isAscii(input)) return input.toString('latin1');
    try {
      return utf8.decode(input);
    } catch (error) {
      throw new XmlError('encoding', 'not valid UTF-8', { cause: error });
    }
  }
  // A UTF-16 unit is 1 to 3 UTF-8 bytes (a surrogate pair 4 for 2): only the middle range needs counting.
  if (input.length > MAX_XML_BYTES || (input.length * 3 > MAX_XML_BYTES && Buffer.byteLength(input, 'utf8') > MAX_XML_BYTES)) {
    throw new XmlError('too_large', `more than ${MAX_XML_BYTES} bytes`);
  }
  return input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
};

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
// ASCII name characters: 1 may start a name (letters, `_`), 2 only follow (digits, `-`, `.`).
const NAME = new Uint8Array(128);
for (let c = 0; c < 128; c += 1) {
  const ch = String.fromCharCode(c);
  NAME[c] = /[A-Za-z_]/.test(ch) ? 1 : /[0-9.-]/.test(ch) ? 2 : 0;
}
const isNameStart = (c: number): boolean => c < 128 && NAME[c] === 1;
const isNameChar = (c: number): boolean => c < 128 && NAME[c] !== 0;

const skipSpace = (text: string, at: number): number => {
  let i = at;
  while (i < text.length && isSpace(text.charCodeAt(i))) i += 1;
  return i;
};

/** Names a plain object resolves through its prototype; refused, as the general parser refuses them. */
const RESERVED = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

// The names WeChat sends in flat documents (docs/protocol.md §1.3, §1.4, §2), by length. A name found here is
// stored under the constant, whose hash V8 already holds, instead of under a fresh slice of the text that
// would be hashed and looked up in the string table on every store (a tenth of the reader's time).
const KNOWN_NAMES: readonly string[][] = [];
for (const name of [
  ...['AppId', 'Encrypt', 'ToUserName', 'FromUserName', 'CreateTime', 'InfoType', 'ComponentVerifyTicket'],
  ...['AuthorizerAppid', 'AuthorizationCode', 'AuthorizationCodeExpiredTime', 'PreAuthCode', 'appid', 'status', 'auth_code', 'msg'],
  ...['MsgType', 'Content', 'MsgId', 'MsgID', 'Event', 'EventKey', 'Ticket', 'MediaId', 'Format', 'Recognition', 'ThumbMediaId', 'PicUrl'],
  ...['Latitude', 'Longitude', 'Precision', 'Location_X', 'Location_Y', 'Scale', 'Label', 'Title', 'Description', 'Url', 'Status'],
]) {
  (KNOWN_NAMES as string[][])[name.length] ??= [];
  (KNOWN_NAMES[name.length] as string[]).push(name);
}

/** The element name at text[start, end): a known constant, or a reserved-checked slice. */
const nameAt = (text: string, start: number, end: number): string => {
  const candidates = KNOWN_NAMES[end - start];
  if (candidates) {
    const first = text.charCodeAt(start);
    for (const known of candidates) if (known.charCodeAt(0) === first && text.startsWith(known, start)) return known;
  }
  const name = text.slice(start, end);
  if (RESERVED.has(name)) throw new XmlError('reserved_name', `element name ${JSON.stringify(name)} is not allowed`);
  return name;
};

/**
 * What stands at `at` where markup other than the expected close tag was found: `<!--`, `<?`, a second CDATA
 * section or an opening tag are legal XML the flat shape does not cover; a declaration is refused; anything
 * else (a close tag of another element, the end of the text) is malformed.
 */
const unexpected = (text: string, at: number, name: string): typeof NOT_FLAT => {
  if (at >= text.length) throw new XmlError('malformed', `unterminated element, </${name}> expected`);
  if (text.charCodeAt(at) !== LT) return NOT_FLAT; // text after a CDATA section, or text in the root
  const next = text.charCodeAt(at + 1);
  if (next === BANG) {
    if (text.startsWith('<!--', at) || text.startsWith(CDATA_OPEN, at)) return NOT_FLAT;
    throw new XmlError('declaration', 'DOCTYPE and other declarations are not accepted');
  }
  if (next === QUESTION || isNameStart(next) || next >= 0x80) return NOT_FLAT;
  // `</name >`: the right close tag with white space before its `>`.
  if (next === SLASH && text.startsWith(name, at + 2) && isSpace(text.charCodeAt(at + 2 + name.length))) return NOT_FLAT;
  throw new XmlError('malformed', `</${name}> expected`);
};

/** Whether `</name>` stands at `at`. */
const closes = (text: string, at: number, name: string): boolean =>
  text.charCodeAt(at) === LT && text.charCodeAt(at + 1) === SLASH && text.charCodeAt(at + 2 + name.length) === GT && text.startsWith(name, at + 2);

// The record the reader fills. Like the general parser's null-prototype records, no name resolves through a
// prototype: its prototype is an empty object whose own prototype is null (no constructor, no toString). Unlike
// them it keeps V8's fast properties, as the same names arrive in the same order push after push: reading a
// document into it costs a fifth less than into Object.create(null), and so does every field read after.
class FlatRecord {}
Object.setPrototypeOf(FlatRecord.prototype, null);
Reflect.deleteProperty(FlatRecord.prototype, 'constructor');

/** Reads `<xml>` and its flat children; NOT_FLAT for any other legal shape. */
const scan = (text: string): XmlRecord | typeof NOT_FLAT => {
  if (!text.startsWith(ROOT_OPEN)) {
    if (text.startsWith('<xml', 0) && !isNameChar(text.charCodeAt(4))) return NOT_FLAT; // attributes, `<xml/>`
    const first = text.charCodeAt(0);
    if (isSpace(first)) return NOT_FLAT;
    if (first !== LT) throw new XmlError('malformed', 'not an XML document');
    if (isNameStart(text.charCodeAt(1))) throw new XmlError('root', 'the document must have one <xml> root element');
    return unexpected(text, 0, 'xml');
  }
  const fields = new FlatRecord() as Record<string, string>;
  let tags = 2;
  let i = ROOT_OPEN.length;
  for (;;) {
    i = skipSpace(text, i);
    if (text.charCodeAt(i) !== LT || !isNameStart(text.charCodeAt(i + 1))) {
      if (!text.startsWith(ROOT_CLOSE, i)) return unexpected(text, i, 'xml');
      const end = skipSpace(text, i + ROOT_CLOSE.length);
      if (end === text.length) return fields;
      // Only a comment or a processing instruction may follow the root; a second element never.
      if (text.startsWith('<!--', end) || text.startsWith('<?', end)) return NOT_FLAT;
      throw new XmlError('malformed', 'content after the </xml> root');
    }
    // An opening tag: a bare ASCII name and `>`.
    const nameStart = i + 1;
    let j = nameStart + 1;
    while (isNameChar(text.charCodeAt(j))) j += 1;
    if (j - nameStart > MAX_TAG_LENGTH) throw new XmlError('malformed', `a tag is longer than ${MAX_TAG_LENGTH}`);
    if (text.charCodeAt(j) !== GT) {
      if (j >= text.length) throw new XmlError('malformed', 'unterminated tag');
      return NOT_FLAT; // attributes, `/>`, a namespace prefix or a non-ASCII name
    }
    tags += 2;
    if (tags > MAX_XML_TAGS) throw new XmlError('too_many_tags', `more than ${MAX_XML_TAGS} tags`);
    const name = nameAt(text, nameStart, j);
    if (fields[name] !== undefined) throw new XmlError('duplicate', `element ${name} appears twice`);
    // Its content: one CDATA section (kept exactly) or plain text (trimmed), white space around either.
    const contentStart = j + 1;
    const k = skipSpace(text, contentStart);
    let value: string;
    let close: number;
    if (text.startsWith(CDATA_OPEN, k)) {
      const end = text.indexOf(CDATA_CLOSE, k + CDATA_OPEN.length);
      if (end === -1) throw new XmlError('malformed', 'unterminated CDATA section');
      value = text.slice(k + CDATA_OPEN.length, end);
      close = skipSpace(text, end + CDATA_CLOSE.length);
    } else {
      close = text.indexOf('<', k);
      if (close === -1) throw new XmlError('malformed', `unterminated element ${name}`);
      const raw = text.slice(k, close);
      if (raw.includes('&')) throw new XmlError('entity', 'entity and character references are not accepted');
      value = raw.trim();
    }
    if (!closes(text, close, name)) return unexpected(text, close, name);
    // XML reads every line break as one \n (XML 1.0 §2.11), as the general parser does.
    fields[name] = value.includes('\r') ? value.replace(CARRIAGE_RETURNS, '\n') : value;
    i = close + name.length + 3;
  }
};

/**
 * Reads a flat WeChat document (an `<xml>` root, children holding text or CDATA) and returns its children;
 * throws XmlError for anything else, reason `not_flat` for legal XML of another shape.
 */
export const readFlatXml = (input: string | Buffer): XmlRecord => {
  const fields = scan(decode(input));
  if (fields === NOT_FLAT) throw new XmlError('not_flat', 'not a flat <xml> document');
  return fields;
};

/**
 * Parses any WeChat XML document: flat ones with the strict reader, every other legal shape (nesting,
 * attributes, comments, declarations) with the hardened general parser; both refuse what is hostile.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/Message_encryption_and_decryption.html
 */
export const readXml = (input: string | Buffer): XmlRecord => {
  const fields = scan(decode(input));
  return fields === NOT_FLAT ? parseXml(input) : fields;
};
