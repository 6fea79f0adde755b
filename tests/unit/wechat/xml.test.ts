import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_XML_BYTES, MAX_XML_TAGS, parseXml, XmlError, type XmlErrorReason } from '../../../lib/wechat/xml.ts';

const reasonOf = (input: string | Buffer): XmlErrorReason | undefined => {
  try {
    parseXml(input);
  } catch (error) {
    if (error instanceof XmlError) return error.reason;
    throw error;
  }
  return undefined;
};

const nested = (depth: number): string =>
  `${Array.from({ length: depth }, (_, i) => `<t${i}>`).join('')}v${Array.from({ length: depth }, (_, i) => `</t${depth - 1 - i}>`).join('')}`;

describe('xml.parseXml', () => {
  it('reads CDATA and plain text alike, whatever the element order', () => {
    // Act
    const a = parseXml('<xml><AppId><![CDATA[wx77ea274ef9f3e504]]></AppId>\n<CreateTime>1501996049</CreateTime>\n<Note>  two words  </Note></xml>');
    const b = parseXml(
      '<xml><Note><![CDATA[two words]]></Note><CreateTime><![CDATA[1501996049]]></CreateTime><AppId>wx77ea274ef9f3e504</AppId></xml>',
    );
    // Assess
    assert.deepEqual({ ...a }, { AppId: 'wx77ea274ef9f3e504', CreateTime: '1501996049', Note: 'two words' });
    assert.deepEqual({ ...b }, { ...a });
  });

  it('trims whitespace around plain text and keeps CDATA content exactly as sent', () => {
    const fields = parseXml('<xml>\n  <Plain>\n  text \n</Plain>\n  <Literal><![CDATA[ spaced ]]></Literal>\n</xml>');
    assert.equal(fields.Plain, 'text');
    assert.equal(fields.Literal, ' spaced ');
  });

  it('keeps numbers as exact strings, including a MsgId above 2^53', () => {
    const fields = parseXml('<xml><MsgId>22449548215715819</MsgId><Status>0</Status><Hex>0x1F</Hex><Lead>007</Lead></xml>');
    assert.equal(fields.MsgId, '22449548215715819');
    assert.equal(fields.Status, '0');
    assert.equal(fields.Hex, '0x1F');
    assert.equal(fields.Lead, '007');
  });

  it('returns nested elements, repeated elements as lists, and empty elements as empty strings', () => {
    const fields = parseXml('<xml><info><name>Acme</name><code_type>1</code_type></info><item>a</item><item>b</item><Empty/><Blank></Blank></xml>');
    assert.deepEqual({ ...(fields.info as object) }, { name: 'Acme', code_type: '1' });
    assert.deepEqual(fields.item, ['a', 'b']);
    assert.equal(fields.Empty, '');
    assert.equal(fields.Blank, '');
  });

  it('accepts an XML declaration, a byte-order mark, comments and UTF-8 bytes', () => {
    const fields = parseXml(
      Buffer.from('\uFEFF<?xml version="1.0" encoding="UTF-8"?><xml><!-- note --><Content><![CDATA[我是中文 <b>&amp;</b>]]></Content></xml>'),
    );
    assert.equal(fields.Content, '我是中文 <b>&amp;</b>');
  });

  it('leaves entity references unexpanded', () => {
    assert.equal(parseXml('<xml><a>&lt;b&gt;&amp;&#65;</a></xml>').a, '&lt;b&gt;&amp;&#65;');
  });

  it('ignores attributes', () => {
    assert.deepEqual({ ...parseXml('<xml><a b="1" c="2">3</a></xml>') }, { a: '3' });
  });

  it('returns null-prototype records, so absent names never resolve to Object.prototype members', () => {
    const fields = parseXml('<xml><a>1</a></xml>');
    assert.equal(Object.getPrototypeOf(fields), null);
    assert.equal(fields.constructor, undefined);
    assert.equal(fields.toString, undefined);
  });

  it('refuses DOCTYPE and ENTITY declarations before parsing, billion laughs included', () => {
    const laughs =
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
      '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]><xml><a>&lol2;</a></xml>';
    assert.equal(reasonOf(laughs), 'declaration');
    assert.equal(reasonOf('<!DOCTYPE xml SYSTEM "file:///etc/passwd"><xml><a>&xxe;</a></xml>'), 'declaration');
    assert.equal(reasonOf('<xml><!ENTITY x "y"><a>1</a></xml>'), 'declaration');
    assert.equal(reasonOf('<!doctype xml><xml/>'), 'declaration');
  });

  it('does not mistake declaration-like text inside CDATA for a declaration', () => {
    assert.equal(parseXml('<xml><Content><![CDATA[<!DOCTYPE is just text here]]></Content></xml>').Content, '<!DOCTYPE is just text here');
  });

  it('refuses a body over the size limit before parsing, as text or as bytes', () => {
    const big = `<xml><a>${'x'.repeat(MAX_XML_BYTES)}</a></xml>`;
    assert.equal(reasonOf(big), 'too_large');
    assert.equal(reasonOf(Buffer.from(big)), 'too_large');
    assert.equal(reasonOf(`<xml><a>${'中'.repeat(MAX_XML_BYTES / 3)}</a></xml>`), 'too_large');
  });

  it('refuses too many tags before parsing', () => {
    assert.equal(reasonOf(`<xml>${'<a/>'.repeat(MAX_XML_TAGS)}</xml>`), 'too_many_tags');
  });

  it('refuses nesting deeper than six levels and accepts six', () => {
    assert.equal(reasonOf(`<xml>${nested(6)}</xml>`), 'too_deep');
    assert.equal(reasonOf(`<xml>${nested(5)}</xml>`), undefined);
    assert.equal(reasonOf('<a>'.repeat(150) + '</a>'.repeat(150)), 'too_deep');
  });

  it('refuses element names that could reach Object.prototype and pollutes nothing', () => {
    for (const name of ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf']) {
      assert.equal(reasonOf(`<xml><${name}><polluted>yes</polluted></${name}></xml>`), 'reserved_name', name);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('refuses non-XML, malformed XML, invalid UTF-8 and documents without one <xml> root', () => {
    const cases: [string | Buffer, XmlErrorReason][] = [
      ['hello world', 'malformed'],
      ['{"Encrypt":"abc"}', 'malformed'],
      ['', 'malformed'],
      ['<xml><a>1</xml>', 'malformed'],
      ['<xml><a><![CDATA[never closed</a></xml>', 'malformed'],
      ['<xml><!-- never closed <a>1</a></xml>', 'malformed'],
      [Buffer.from([0x3c, 0x78, 0x6d, 0x6c, 0x3e, 0xff, 0xfe, 0x3c, 0x2f, 0x78, 0x6d, 0x6c, 0x3e]), 'encoding'],
      ['<root><a>1</a></root>', 'root'],
      ['<xml><a>1</a></xml><xml><a>2</a></xml>', 'malformed'],
      ['<xml>just text</xml>', 'root'],
    ];
    for (const [input, reason] of cases) assert.equal(reasonOf(input), reason, String(input));
  });

  it('returns an empty record for an empty <xml/>', () => {
    assert.deepEqual(Object.keys(parseXml('<xml/>')), []);
  });

  it('refuses every hostile body within milliseconds', () => {
    // Prepare
    const bodies = [
      '<a>'.repeat(16_000) + '</a>'.repeat(16_000),
      `<xml>${'<a>1</a>'.repeat(4000)}</xml>`,
      `<xml><a>${'<![CDATA['.repeat(7000)}`,
      `<xml><a ${'b="1" '.repeat(10_000)}>1</a></xml>`,
      `<!DOCTYPE x [${'<!ENTITY a "b">'.repeat(4000)}]><xml/>`,
    ].map((b) => b.slice(0, MAX_XML_BYTES));
    // Act
    const timings = bodies.map((body) => {
      const started = performance.now();
      const reason = reasonOf(body);
      return { reason, ms: Number((performance.now() - started).toFixed(2)) };
    });
    // Assess: every body is refused; the durations are printed, not asserted (machines differ).
    for (const t of timings) assert.notEqual(t.reason, undefined);
    console.log(`hostile xml timings: ${JSON.stringify(timings)}`);
  });
});
