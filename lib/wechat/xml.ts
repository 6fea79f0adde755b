// The one XML reader for everything WeChat sends, configured for hostile input (docs/protocol.md §1.3, docs/architecture.md
// §6). Cheap checks run before the parser sees a byte: size, encoding, DTD declarations, tag count. The
// parser itself keeps every value a string (a MsgId above 2^53 stays exact), expands no entities, ignores
// attributes, and refuses deep nesting and property names that could reach Object.prototype.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { AppError } from '../kernel/errors.ts';

/** The largest body WeChat sends is a few KiB; anything above this is refused before parsing. */
export const MAX_XML_BYTES = 64 * 1024;
/** `<xml><SendPicsInfo><PicList><item><PicMd5Sum>` is the deepest WeChat goes (5); one level of slack. */
export const MAX_XML_DEPTH = 6;
/** Opening plus closing tags; the largest real messages have well under a hundred. Bounds parse time. */
export const MAX_XML_TAGS = 400;
/** Longest `<…>` tag, attributes included; WeChat's tags are bare names. Bounds the validator's attribute work. */
export const MAX_TAG_LENGTH = 256;

export type XmlErrorReason =
  | 'too_large'
  | 'encoding'
  | 'declaration'
  | 'too_many_tags'
  | 'malformed'
  | 'too_deep'
  | 'reserved_name'
  | 'root'
  // Refused by the strict flat reader (flat-xml.ts): a reference, a repeated name, legal XML of another shape.
  | 'entity'
  | 'duplicate'
  | 'not_flat';

/** The input is not an acceptable WeChat XML document; `reason` says which check refused it. */
export class XmlError extends AppError {
  readonly reason: XmlErrorReason;
  constructor(reason: XmlErrorReason, message: string, options?: ErrorOptions) {
    super(`xml ${reason}: ${message}`, options);
    this.reason = reason;
  }
}

/** Element text (CDATA or plain, trimmed), a nested element, or the list of a repeated element. */
export type XmlValue = string | XmlRecord | readonly XmlValue[];
/** Children of an element by name, on a null-prototype object. */
export interface XmlRecord {
  readonly [name: string]: XmlValue | undefined;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  trimValues: true,
  // The parser counts the document node too: N allows N + 1 levels of elements.
  maxNestedTags: MAX_XML_DEPTH - 1,
  strictReservedNames: true,
  onDangerousProperty: (name: string) => {
    throw new XmlError('reserved_name', `element name ${JSON.stringify(name)} is not allowed`);
  },
});

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

const decode = (input: string | Buffer): string => {
  if (typeof input === 'string') {
    if (Buffer.byteLength(input, 'utf8') > MAX_XML_BYTES) throw new XmlError('too_large', `more than ${MAX_XML_BYTES} bytes`);
    return input.replace(/^\uFEFF/, '');
  }
  if (input.length > MAX_XML_BYTES) throw new XmlError('too_large', `more than ${MAX_XML_BYTES} bytes`);
  try {
    return utf8.decode(input);
  } catch (error) {
    throw new XmlError('encoding', 'not valid UTF-8', { cause: error });
  }
};

/**
 * One linear pass: refuses any `<!…>` other than CDATA and comments (DOCTYPE, ENTITY, ELEMENT, …, so no
 * entity can ever be declared, let alone expanded), and counts and measures tags so a body of thousands
 * of tiny elements or of huge attribute lists is refused without being parsed.
 */
const prescan = (text: string): void => {
  let tags = 0;
  let i = text.indexOf('<');
  while (i !== -1) {
    if (text.startsWith('<![CDATA[', i)) {
      const end = text.indexOf(']]>', i + 9);
      if (end === -1) throw new XmlError('malformed', 'unterminated CDATA section');
      i = text.indexOf('<', end + 3);
      continue;
    }
    if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i + 4);
      if (end === -1) throw new XmlError('malformed', 'unterminated comment');
      i = text.indexOf('<', end + 3);
      continue;
    }
    if (text.startsWith('<!', i)) throw new XmlError('declaration', 'DOCTYPE and other declarations are not accepted');
    tags += 1;
    if (tags > MAX_XML_TAGS) throw new XmlError('too_many_tags', `more than ${MAX_XML_TAGS} tags`);
    const close = text.indexOf('>', i + 1);
    if (close === -1 || close - i > MAX_TAG_LENGTH) throw new XmlError('malformed', `a tag is unterminated or longer than ${MAX_TAG_LENGTH}`);
    i = text.indexOf('<', close + 1);
  }
};

/** Copies the parser's output onto null-prototype objects, so no lookup can ever hit Object.prototype. */
const detach = (value: unknown): XmlValue => {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(detach);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, XmlValue> = Object.create(null) as Record<string, XmlValue>;
    for (const [key, child] of Object.entries(value)) out[key] = detach(child);
    return out;
  }
  return String(value ?? '');
};

/**
 * Parses a WeChat XML document and returns the children of its single `<xml>` root.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/Message_encryption_and_decryption.html
 */
export const parseXml = (input: string | Buffer): XmlRecord => {
  const text = decode(input);
  prescan(text);
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new XmlError('malformed', `${valid.err.code} at line ${valid.err.line}`);
  let parsed: unknown;
  try {
    parsed = parser.parse(text);
  } catch (error) {
    if (error instanceof XmlError) throw error;
    const message = (error as Error).message ?? '';
    if (message.includes('nested tags')) throw new XmlError('too_deep', `nested deeper than ${MAX_XML_DEPTH}`, { cause: error });
    if (message.includes('[SECURITY]')) throw new XmlError('reserved_name', 'element name is not allowed', { cause: error });
    throw new XmlError('malformed', 'parser refused the document', { cause: error });
  }
  const top = detach(parsed);
  const names = typeof top === 'object' && !Array.isArray(top) ? Object.keys(top) : [];
  if (names.length !== 1 || names[0] !== 'xml') throw new XmlError('root', 'the document must have one <xml> root element');
  const root = (top as XmlRecord).xml;
  if (root === '') return Object.create(null) as XmlRecord;
  if (typeof root !== 'object' || Array.isArray(root)) throw new XmlError('root', '<xml> must contain elements');
  return root as XmlRecord;
};
