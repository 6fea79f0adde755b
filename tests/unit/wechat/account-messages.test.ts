import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AccountMessageError, auditResultOf, parseAccountMessage } from '../../../lib/wechat/account-messages.ts';
import { XmlError } from '../../../lib/wechat/xml.ts';

const msg = (body: string) =>
  `<xml><ToUserName><![CDATA[gh_3c884a361561]]></ToUserName>\n<FromUserName><![CDATA[ozy4qt1eDxSxzCr0aNT0mXCWfrDE]]></FromUserName>\n` +
  `<CreateTime>1501996049</CreateTime>\n${body}</xml>`;

const fieldOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    if (error instanceof AccountMessageError) return error.field;
    throw error;
  }
  return undefined;
};

describe('mpMessages.parseAccountMessage', () => {
  it('reads a text message and keeps a MsgId above 2^53 exact', () => {
    // Act
    const message = parseAccountMessage(
      msg('<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[TESTCOMPONENT_MSG_TYPE_TEXT]]></Content><MsgId>22449548215715819</MsgId>'),
    );
    // Assess
    assert.equal(message.msgType, 'text');
    assert.ok(message.msgType === 'text');
    assert.equal(message.msgId, '22449548215715819');
    assert.equal(message.content, 'TESTCOMPONENT_MSG_TYPE_TEXT');
    assert.equal(message.toUserName, 'gh_3c884a361561');
    assert.equal(message.fromUserName, 'ozy4qt1eDxSxzCr0aNT0mXCWfrDE');
    assert.equal(message.createTime, 1501996049);
    assert.equal(message.fields.MsgId, '22449548215715819');
  });

  it('reads an event with its name as WeChat spells it and the optional EventKey', () => {
    // Act
    const location = parseAccountMessage(
      msg(
        '<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[LOCATION]]></Event><Latitude>23.137466</Latitude><Longitude>113.352425</Longitude><Precision>119.385040</Precision>',
      ),
    );
    const click = parseAccountMessage(msg('<MsgType>event</MsgType><Event>CLICK</Event><EventKey>V1001_TODAY</EventKey>'));
    // Assess
    assert.ok(location.msgType === 'event' && click.msgType === 'event');
    assert.equal(location.event, 'LOCATION');
    assert.equal(location.eventKey, undefined);
    assert.equal(location.fields.Latitude, '23.137466');
    assert.equal(click.eventKey, 'V1001_TODAY');
  });

  it('reads media messages with their MsgId and MediaId', () => {
    // Act
    const image = parseAccountMessage(
      msg('<MsgType>image</MsgType><PicUrl>http://p.test/1</PicUrl><MediaId>media_1</MediaId><MsgId>1234567890123456</MsgId>'),
    );
    // Assess
    assert.ok(image.msgType === 'image');
    assert.equal(image.mediaId, 'media_1');
    assert.equal(image.msgId, '1234567890123456');
  });

  it('accepts an unknown MsgType as other, keeping its name and MsgId', () => {
    // Act
    const other = parseAccountMessage(msg('<MsgType>hologram</MsgType><MsgId>77</MsgId>'));
    // Assess
    assert.ok(other.msgType === 'other');
    assert.equal(other.rawMsgType, 'hologram');
    assert.equal(other.msgId, '77');
  });

  it('accepts an empty text Content', () => {
    const message = parseAccountMessage(msg('<MsgType>text</MsgType><Content><![CDATA[]]></Content><MsgId>1</MsgId>'));
    assert.ok(message.msgType === 'text');
    assert.equal(message.content, '');
  });

  it('names the missing or malformed field of a message', () => {
    assert.equal(
      fieldOf(() => parseAccountMessage('<xml><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType></xml>')),
      'ToUserName',
    );
    assert.equal(
      fieldOf(() => parseAccountMessage(msg('<MsgType>text</MsgType><Content>x</Content>'))),
      'MsgId',
    );
    assert.equal(
      fieldOf(() => parseAccountMessage(msg('<MsgType>text</MsgType><MsgId>1</MsgId>'))),
      'Content',
    );
    assert.equal(
      fieldOf(() => parseAccountMessage(msg('<MsgType>event</MsgType>'))),
      'Event',
    );
    assert.equal(
      fieldOf(() => parseAccountMessage(msg('<Content>x</Content>'))),
      'MsgType',
    );
    assert.equal(
      fieldOf(() => parseAccountMessage(msg('<MsgType>image</MsgType>'))),
      'MsgId',
    );
    const badTime = '<xml><ToUserName>g</ToUserName><FromUserName>u</FromUserName><CreateTime>1e9</CreateTime><MsgType>text</MsgType></xml>';
    assert.equal(
      fieldOf(() => parseAccountMessage(badTime)),
      'CreateTime',
    );
  });

  it('refuses a DOCTYPE before reading any field', () => {
    assert.throws(() => parseAccountMessage(`<!DOCTYPE x [<!ENTITY e "v">]>${msg('<MsgType>text</MsgType>')}`), XmlError);
  });
});

describe('auditResultOf', () => {
  const audit = (event: string, extra: string) =>
    parseAccountMessage(
      '<xml><ToUserName><![CDATA[gh_fb9688c2a4b2]]></ToUserName><FromUserName><![CDATA[od1P50M-fNQI5Gcq-trm4a7apsU8]]></FromUserName>' +
        `<CreateTime>1488856591</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[${event}]]></Event>${extra}</xml>`,
    );

  it('reads the three audit pushes as WeChat documents them', () => {
    // Act
    const success = auditResultOf(audit('weapp_audit_success', '<SuccTime>1488856741</SuccTime>'));
    const fail = auditResultOf(
      audit(
        'weapp_audit_fail',
        '<Reason><![CDATA[1:账号信息不符合规范:<br>(1):包含色情因素<br>]]></Reason><FailTime>1488856592</FailTime><ScreenShot>xxx|yyy|zzz</ScreenShot>',
      ),
    );
    const delay = auditResultOf(audit('weapp_audit_delay', '<Reason><![CDATA[审核时效可能增长]]></Reason><DelayTime>1488856593</DelayTime>'));
    // Assess
    assert.deepEqual(success, { outcome: 'success', at: 1488856741, screenshots: [] });
    assert.deepEqual(fail, {
      outcome: 'fail',
      at: 1488856592,
      reason: '1:账号信息不符合规范:<br>(1):包含色情因素<br>',
      screenshots: ['xxx', 'yyy', 'zzz'],
    });
    assert.deepEqual(delay, { outcome: 'delay', at: 1488856593, reason: '审核时效可能增长', screenshots: [] });
  });

  it('falls back to CreateTime, accepts a fail without ScreenShot, and ignores every other event', () => {
    // Act & Assess
    assert.deepEqual(auditResultOf(audit('weapp_audit_fail', '<Reason>r</Reason>')), {
      outcome: 'fail',
      at: 1488856591,
      reason: 'r',
      screenshots: [],
    });
    assert.equal(auditResultOf(audit('subscribe', '')), undefined);
    assert.equal(auditResultOf(audit('toString', '')), undefined);
    assert.equal(auditResultOf(parseAccountMessage(msg('<MsgType>text</MsgType><Content>weapp_audit_success</Content><MsgId>1</MsgId>'))), undefined);
  });
});
