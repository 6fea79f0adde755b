import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keysFrom, openEnvelope } from '../../../lib/wechat/crypto.ts';
import { buildReplyXml, cdata, sealReply } from '../../../lib/wechat/replies.ts';
import { parseXml } from '../../../lib/wechat/xml.ts';
import { V3 } from '../../fixtures/crypto/vectors.ts';

const address = { toUser: 'oUser-openid_1', fromUser: 'gh_3c884a361561', createTime: 1_700_000_000 };

describe('reply.buildReplyXml for text', () => {
  it('writes the MP text reply with To = the user and From = the account', () => {
    // Act
    const xml = buildReplyXml(address, { msgType: 'text', content: 'TESTCOMPONENT_MSG_TYPE_TEXT_callback' });
    // Assess
    assert.equal(
      xml,
      '<xml><ToUserName><![CDATA[oUser-openid_1]]></ToUserName><FromUserName><![CDATA[gh_3c884a361561]]></FromUserName>' +
        '<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>' +
        '<Content><![CDATA[TESTCOMPONENT_MSG_TYPE_TEXT_callback]]></Content></xml>',
    );
  });

  it('keeps content containing ]]>, markup and Chinese intact through a parser', () => {
    // Prepare
    const content = 'a]]>b<xml></xml>&amp; 中文 ]]]]>';
    // Act
    const parsed = parseXml(buildReplyXml(address, { msgType: 'text', content }));
    // Assess
    assert.equal(parsed.Content, content);
    assert.equal(parsed.ToUserName, address.toUser);
  });

  it('refuses a createTime that is not epoch seconds', () => {
    assert.throws(() => buildReplyXml({ ...address, createTime: 1.5 }, { msgType: 'text', content: 'x' }), RangeError);
  });
});

describe('reply.cdata', () => {
  it('splits every ]]> across two sections', () => {
    assert.equal(cdata('x]]>y'), '<![CDATA[x]]]]><![CDATA[>y]]>');
  });
});

describe('reply.buildReplyXml', () => {
  it('writes image, voice, video and news bodies that parse back to their fields', () => {
    // Act
    const image = parseXml(buildReplyXml(address, { msgType: 'image', mediaId: 'm1' }));
    const voice = parseXml(buildReplyXml(address, { msgType: 'voice', mediaId: 'm2' }));
    const video = parseXml(buildReplyXml(address, { msgType: 'video', mediaId: 'm3', title: 'T' }));
    const news = parseXml(
      buildReplyXml(address, {
        msgType: 'news',
        articles: [
          { title: 'A', url: 'https://a.test/' },
          { title: 'B', description: 'd' },
        ],
      }),
    );
    // Assess
    assert.deepEqual({ ...(image.Image as object) }, { MediaId: 'm1' });
    assert.deepEqual({ ...(voice.Voice as object) }, { MediaId: 'm2' });
    assert.deepEqual({ ...(video.Video as object) }, { MediaId: 'm3', Title: 'T' });
    assert.equal(news.MsgType, 'news');
    assert.equal(news.ArticleCount, '2');
    const items = (news.Articles as { item: { Title: string }[] }).item;
    assert.deepEqual(
      items.map((i) => i.Title),
      ['A', 'B'],
    );
  });

  it('refuses a news reply without articles or with more than 8', () => {
    assert.throws(() => buildReplyXml(address, { msgType: 'news', articles: [] }), RangeError);
    const nine = Array.from({ length: 9 }, (_, i) => ({ title: `t${i}` }));
    assert.throws(() => buildReplyXml(address, { msgType: 'news', articles: nine }), RangeError);
  });
});

describe('reply.sealReply', () => {
  it('reproduces the wechatpy encrypted reply vector byte for byte', () => {
    // Prepare
    const keys = keysFrom({ token: V3.token, encodingAesKey: V3.encodingAesKey }, V3.appId);
    const c = V3.encryptCase;
    // Act
    const xml = sealReply(keys, c.message, { timestamp: Number(c.timestamp), nonce: c.nonce, random: Buffer.from(c.random) });
    // Assess
    assert.equal(
      xml,
      `<xml>\n<Encrypt><![CDATA[${c.encrypt}]]></Encrypt>\n<MsgSignature><![CDATA[${c.msgSignature}]]></MsgSignature>\n` +
        `<TimeStamp>${c.timestamp}</TimeStamp>\n<Nonce><![CDATA[${c.nonce}]]></Nonce>\n</xml>`,
    );
  });

  it('seals a reply that opens with the component keys and a fresh nonce each time', () => {
    // Prepare
    const keys = keysFrom({ token: 'replyToken1', encodingAesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG' }, 'wx5ce1ab0c0ffee000');
    const inner = buildReplyXml(address, { msgType: 'text', content: 'LOCATIONfrom_callback' });
    // Act
    const first = parseXml(sealReply(keys, inner, { timestamp: 1_700_000_001 }));
    const second = parseXml(sealReply(keys, inner, { timestamp: 1_700_000_001 }));
    const opened = openEnvelope(keys, {
      msgSignature: first.MsgSignature as string,
      timestamp: first.TimeStamp as string,
      nonce: first.Nonce as string,
      encrypt: first.Encrypt as string,
    });
    // Assess
    assert.equal(opened, inner);
    assert.equal(first.TimeStamp, '1700000001');
    assert.notEqual(first.Nonce, second.Nonce);
  });
});
