import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFlatXml, readXml } from '../../../lib/wechat/flat-xml.ts';
import { MAX_XML_BYTES, MAX_XML_TAGS, parseXml, XmlError, type XmlErrorReason, type XmlRecord } from '../../../lib/wechat/xml.ts';
import { createRng, fuzzSeed, type Rng } from '../../helpers/fuzz.ts';
import { fastRegisterXml, outerBody, ticketXml } from '../../helpers/wechat-push.ts';
import { eventXml, textXml } from '../../helpers/wechat-message.ts';

const reasonOf = (read: (input: string | Buffer) => XmlRecord, input: string | Buffer): XmlErrorReason | undefined => {
  try {
    read(input);
  } catch (error) {
    if (error instanceof XmlError) return error.reason;
    throw error;
  }
  return undefined;
};
const flatReason = (input: string | Buffer) => reasonOf(readFlatXml, input);
const entries = (record: XmlRecord) => Object.entries(record);

const APPID = 'wx5ce1ab0c0ffee000';
const ENCRYPT = `${'AbCd+/09'.repeat(76)}==`;

describe('flatXml.readFlatXml', () => {
  it('reads the outer envelope and a decrypted push into their fields', () => {
    // Act
    const outer = readFlatXml(Buffer.from(outerBody(ENCRYPT, APPID)));
    const push = readFlatXml(ticketXml({ appId: APPID, createTime: 1_700_000_000, ticket: 'ticket@@@abc' }));
    // Assess
    assert.deepEqual(entries(outer), [
      ['AppId', APPID],
      ['Encrypt', ENCRYPT],
    ]);
    assert.deepEqual(entries(push), [
      ['AppId', APPID],
      ['CreateTime', '1700000000'],
      ['InfoType', 'component_verify_ticket'],
      ['ComponentVerifyTicket', 'ticket@@@abc'],
    ]);
  });

  it('keeps CDATA exactly, trims plain text, and reads every line break as one \\n', () => {
    // Act
    const fields = readFlatXml(
      '<xml>\r\n <Plain>\n  two words \n</Plain>\r\n <Literal>  <![CDATA[ <b>&amp;</b>\r\nnext\rline ]]>\t</Literal></xml>\n',
    );
    // Assess
    assert.equal(fields.Plain, 'two words');
    assert.equal(fields.Literal, ' <b>&amp;</b>\nnext\nline ');
  });

  it('reads UTF-8 bytes, strips a byte order mark, and keeps a MsgId above 2^53 as its digits', () => {
    // Act
    const fields = readFlatXml(Buffer.from('\uFEFF<xml><Content><![CDATA[我是中文 😀]]></Content><MsgId>22449548215715819</MsgId></xml>'));
    // Assess
    assert.deepEqual(entries(fields), [
      ['Content', '我是中文 😀'],
      ['MsgId', '22449548215715819'],
    ]);
  });

  it('returns records on which no absent name resolves through a prototype', () => {
    // Act
    const fields = readFlatXml('<xml><a>1</a><Empty></Empty></xml>');
    // Assess
    assert.equal(fields.Empty, '');
    for (const name of ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', 'prototype'])
      assert.equal(fields[name], undefined, name);
    assert.equal(Object.getPrototypeOf(Object.getPrototypeOf(fields)), null);
    assert.deepEqual(Object.keys(Object.getPrototypeOf(fields) as object), []);
  });

  it('refuses DOCTYPE and every other declaration wherever it stands, billion laughs included', () => {
    const laughs = '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;">]><xml><a>&lol1;</a></xml>';
    for (const input of [
      laughs,
      '<!doctype xml><xml/>',
      '<xml><!ENTITY x "y"><a>1</a></xml>',
      '<xml><a>1</a><!DOCTYPE x></xml>',
      '<xml><a><!ELEMENT a ANY></a></xml>',
    ]) {
      assert.equal(flatReason(input), 'declaration', input);
    }
  });

  it('refuses entity and character references in plain text, and reads them as text inside CDATA', () => {
    for (const input of ['<xml><a>&amp;</a></xml>', '<xml><a>x &#65; y</a></xml>', '<xml><a>&xxe;</a></xml>', '<xml><a>&</a></xml>']) {
      assert.equal(flatReason(input), 'entity', input);
    }
    assert.equal(readFlatXml('<xml><a><![CDATA[&xxe;]]></a></xml>').a, '&xxe;');
  });

  it('refuses a repeated name, naming it', () => {
    // Act
    const attempt = () => readFlatXml(`<xml><Encrypt><![CDATA[${ENCRYPT}]]></Encrypt><Encrypt>AAAA</Encrypt></xml>`);
    // Assess
    assert.throws(attempt, (e: unknown) => e instanceof XmlError && e.reason === 'duplicate' && e.message.includes('Encrypt'));
  });

  it('refuses every name that could reach Object.prototype and pollutes nothing', () => {
    for (const name of ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'isPrototypeOf']) {
      assert.equal(flatReason(`<xml><${name}>yes</${name}></xml>`), 'reserved_name', name);
    }
    assert.equal(({} as Record<string, unknown>).yes, undefined);
  });

  it('refuses invalid UTF-8 and UTF-16, and more than 64 KiB as text or bytes', () => {
    assert.equal(flatReason(Buffer.from([0x3c, 0x78, 0x6d, 0x6c, 0x3e, 0xc3, 0x28, 0x3c, 0x2f, 0x78, 0x6d, 0x6c, 0x3e])), 'encoding');
    assert.equal(flatReason(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<xml><a>1</a></xml>', 'utf16le')])), 'encoding');
    const big = `<xml><a>${'x'.repeat(MAX_XML_BYTES)}</a></xml>`;
    assert.equal(flatReason(big), 'too_large');
    assert.equal(flatReason(Buffer.from(big)), 'too_large');
    // Few characters, many bytes: 中 is three.
    assert.equal(flatReason(`<xml><a>${'中'.repeat(MAX_XML_BYTES / 3)}</a></xml>`), 'too_large');
    assert.equal(flatReason(`<xml><a>${'中'.repeat(MAX_XML_BYTES / 3 - 20)}</a></xml>`), undefined);
  });

  it('refuses malformed documents and any root but one <xml>', () => {
    const cases: [string, XmlErrorReason][] = [
      ['', 'malformed'],
      ['hello world', 'malformed'],
      ['{"Encrypt":"abc"}', 'malformed'],
      ['<xml>', 'malformed'],
      ['<xml><a>1</a>', 'malformed'],
      ['<xml><a>1</b></xml>', 'malformed'],
      ['<xml><a>1</xml>', 'malformed'],
      ['<xml><a><![CDATA[never closed</a></xml>', 'malformed'],
      ['<xml><a>1</a></XML>', 'malformed'],
      ['<xml><a>1</a></xml><xml><a>2</a></xml>', 'malformed'],
      ['<xml><a>1</a></xml>trailing', 'malformed'],
      ['<xml><a', 'malformed'],
      [`<xml><T${'a'.repeat(300)}>1</T${'a'.repeat(300)}></xml>`, 'malformed'],
      ['<root><a>1</a></root>', 'root'],
      ['<XML><a>1</a></XML>', 'root'],
      [`<xml>${Array.from({ length: MAX_XML_TAGS / 2 }, (_, i) => `<t${i}>1</t${i}>`).join('')}</xml>`, 'too_many_tags'],
    ];
    for (const [input, reason] of cases) assert.equal(flatReason(input), reason, input.slice(0, 60));
  });

  it('says not_flat, without judging, for legal XML of another shape', () => {
    const cases = [
      '<xml><info><name>Acme</name></info></xml>',
      '<xml lang="zh"><a>1</a></xml>',
      '<xml><a b="1">1</a></xml>',
      '<xml><a/></xml>',
      '<xml/>',
      '<xml><!-- note --><a>1</a></xml>',
      '<xml><a>1</a></xml><!-- after -->',
      '<?xml version="1.0"?><xml><a>1</a></xml>',
      '<xml><?php echo 1; ?><a>1</a></xml>',
      '<xml><a><![CDATA[x]]><![CDATA[y]]></a></xml>',
      '<xml><a>x<![CDATA[y]]></a></xml>',
      '<xml><a><![CDATA[x]]>y</a></xml>',
      '<xml><a>1</a ></xml>',
      '<xml>text<a>1</a></xml>',
      ' <xml><a>1</a></xml>',
      '<xml><中>1</中></xml>',
      '<xml><x:a>1</x:a></xml>',
    ];
    for (const input of cases) assert.equal(flatReason(input), 'not_flat', input);
  });
});

/** Flat documents built from the pieces that trip readers: names, white space, CDATA and text of every class. */
const flatDocument = (rng: Rng): string => {
  const names = ['AppId', 'Encrypt', 'a', 'A_b', 'x.y', 'x-y', '_u', 'CreateTime', 'n1', 'xml', 'Xml', 'MsgId', 'Content'];
  const space = () => rng.pick(['', '', ' ', '\n', '\r\n', '\t', '\r', '  \n ']);
  const text = (pool: string[]) => Array.from({ length: rng.between(0, 8) }, () => rng.pick(pool)).join('');
  const inCdata = [
    '<',
    '>',
    '&amp;',
    '"',
    "'",
    ']',
    ']]',
    '[',
    '<![CDATA[',
    '\u0000',
    '\u202e',
    '\uFEFF',
    '\u00a0',
    '😀',
    '中',
    '\r\n',
    '\r',
    ' ',
    'a',
    '<a>',
    '-->',
  ];
  const inText = ['"', "'", '>', ']', '\u00a0', '\u2028', '😀', '中', '\r\n', '\r', '\t', ' ', 'a', '0', '@@@', '=', '/', '-->', '?>'];
  const used = new Set<string>();
  const children: string[] = [];
  for (let n = rng.between(0, 7); n > 0; n -= 1) {
    const name = rng.pick(names);
    if (used.has(name)) continue;
    used.add(name);
    // A CDATA section cannot hold its own terminator; where the pieces form one, it is cut.
    let cdata = text(inCdata);
    while (cdata.includes(']]>')) cdata = cdata.replaceAll(']]>', '>');
    const body = rng.bool() ? `${space()}<![CDATA[${cdata}]]>${space()}` : text(inText);
    children.push(`${space()}<${name}>${body}</${name}>`);
  }
  return `${rng.pick(['', '\uFEFF'])}<xml>${children.join('')}${space()}</xml>${rng.pick(['', '\n', ' \r\n'])}`;
};

describe('flatXml agreement with the general parser', () => {
  it('reads every flat document exactly as the hardened parser does (seeded; FUZZ_SEED replays)', () => {
    // Prepare
    const seed = fuzzSeed();
    const rng = createRng(seed);
    const disagreements: string[] = [];
    // Act
    for (let i = 0; i < 3000; i += 1) {
      const document = flatDocument(rng);
      const read = (parse: (input: string) => XmlRecord) => {
        try {
          return JSON.stringify(entries(parse(document)));
        } catch (error) {
          return (error as Error).message;
        }
      };
      const [flat, general] = [read(readFlatXml), read(parseXml)];
      if (flat !== general && disagreements.length < 5) disagreements.push(`${JSON.stringify(document)}: ${flat} / ${general}`);
    }
    // Assess
    assert.deepEqual(disagreements, [], `seed ${seed}`);
  });

  it('reads the genuine pushes and messages of the test helpers as the hardened parser does', () => {
    const documents = [
      outerBody(ENCRYPT, APPID),
      ticketXml({ appId: APPID, createTime: 1_700_000_000, ticket: 'ticket@@@abc' }),
      textXml({ toUser: 'gh_0123456789ab', fromUser: 'o6_x', createTime: 1, content: '你好 <b>&amp;</b>', msgId: '22449548215715819' }),
      eventXml({ toUser: 'gh_0123456789ab', fromUser: 'o6_x', createTime: 1, event: 'LOCATION', extra: '<Latitude>23.1</Latitude>' }),
    ];
    for (const document of documents) assert.deepEqual(entries(readFlatXml(document)), entries(parseXml(document)), document.slice(0, 40));
  });
});

describe('flatXml.readXml', () => {
  it('hands a nested document (fast registration) to the hardened parser, which reads it as before', () => {
    // Prepare
    const document = fastRegisterXml({ appId: APPID, createTime: 1, appid: 'wx1234567890abcdef', authCode: 'code' });
    // Act
    const fields = readXml(document);
    // Assess
    assert.equal(flatReason(document), 'not_flat');
    assert.deepEqual(JSON.stringify(fields), JSON.stringify(parseXml(document)));
    assert.equal((fields.info as XmlRecord).name, 'Acme Ltd');
  });

  it('accepts what the hardened parser accepts of another shape: comments, attributes, a declaration', () => {
    const document = '<?xml version="1.0"?><xml lang="zh"><!-- c --><a>1</a></xml>';
    assert.deepEqual(entries(readXml(document)), [['a', '1']]);
  });

  it('refuses hostile input outright, and still refuses it behind a construct the strict reader leaves to the parser', () => {
    assert.equal(reasonOf(readXml, '<xml><a>&amp;</a></xml>'), 'entity');
    assert.equal(reasonOf(readXml, '<xml><a>1</a><a>2</a></xml>'), 'duplicate');
    assert.equal(reasonOf(readXml, '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><xml><a>&a;</a></xml>'), 'declaration');
    assert.equal(reasonOf(readXml, `<xml><n>${'<n>'.repeat(50)}x${'</n>'.repeat(50)}</n></xml>`), 'too_deep');
    assert.equal(reasonOf(readXml, '<xml><x><__proto__>1</__proto__></x></xml>'), 'reserved_name');
  });

  it('refuses every hostile body in one linear pass', () => {
    // Prepare
    const bodies = [
      '<a>'.repeat(16_000) + '</a>'.repeat(16_000),
      `<xml>${'<a>1</a>'.repeat(4000)}</xml>`,
      `<xml><a>${'<![CDATA['.repeat(7000)}`,
      `<xml><a${' b="1"'.repeat(10_000)}>1</a></xml>`,
      `<!DOCTYPE x [${'<!ENTITY a "b">'.repeat(4000)}]><xml/>`,
      `<xml>${Array.from({ length: 190 }, (_, i) => `<t${i}>${'&'.repeat(300)}</t${i}>`).join('')}</xml>`,
    ].map((b) => b.slice(0, MAX_XML_BYTES));
    // Act
    const timings = bodies.map((body) => {
      const started = performance.now();
      const reason = reasonOf(readXml, body);
      return { reason, ms: Number((performance.now() - started).toFixed(2)) };
    });
    // Assess: every body is refused; the durations are printed, not asserted (machines differ).
    for (const t of timings) assert.notEqual(t.reason, undefined);
    console.log(`hostile flat xml timings: ${JSON.stringify(timings)}`);
  });
});
