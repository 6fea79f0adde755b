import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { componentPushFromFields, isAuthEvent, ComponentPushError, parseComponentPush, subjectAppid } from '../../../lib/wechat/component-pushes.ts';
import { XmlError } from '../../../lib/wechat/xml.ts';

const TICKET = `<xml><AppId><![CDATA[wx77ea274ef9f3e504]]></AppId>
<CreateTime>1501996049</CreateTime>
<InfoType><![CDATA[component_verify_ticket]]></InfoType>
<ComponentVerifyTicket><![CDATA[ticket@@@-iN0rfTqkOmM-GwZkGyHTf0FRh0oX48anx5Y_qi38CV_effhSeIJtXorI4SSkFVcbJVJtDuyBEcX7fkcpCIi3A]]></ComponentVerifyTicket>
</xml>`;
const AUTHORIZED =
  '<xml><AppId>wx304925fbea25bcbe</AppId><CreateTime>1562428385</CreateTime><InfoType>authorized</InfoType>' +
  '<AuthorizerAppid>wxc736b9251b3c6c41</AuthorizerAppid>' +
  '<AuthorizationCode>queryauthcode@@@SozCwT_ve8WQI6Poum-qdGrrBrnQoX2rApglrUIMF0e308IQY7w_tCfAkndxzUth_YwHDto8DUsIeNrX4atetA</AuthorizationCode>' +
  '<AuthorizationCodeExpiredTime>1562431985</AuthorizationCodeExpiredTime>' +
  '<PreAuthCode>preauthcode@@@c4Uh5vOCS3wu9Bbx4tJWxplzkn5swwVHQc9xGtF57C1lfk_UeW50INZsh2flrwxh</PreAuthCode></xml>';
const FAST_REGISTER =
  '<xml><AppId><![CDATA[wx304925fbea25bcbe]]></AppId><CreateTime>1535442403</CreateTime><InfoType><![CDATA[notify_third_fasteregister]]></InfoType>' +
  '<appid>wx1234567890abcdef</appid><status>0</status><auth_code>queryauthcode@@@fast</auth_code><msg>OK</msg>' +
  '<info><name><![CDATA[Acme Ltd]]></name><code><![CDATA[91440300]]></code><code_type>1</code_type><legal_persona_wechat><![CDATA[lp]]></legal_persona_wechat>' +
  '<legal_persona_name><![CDATA[Li]]></legal_persona_name><component_phone><![CDATA[1234]]></component_phone></info></xml>';

const errorOf = (xml: string): ComponentPushError | undefined => {
  try {
    parseComponentPush(xml);
  } catch (error) {
    if (error instanceof ComponentPushError) return error;
    throw error;
  }
  return undefined;
};

describe('messages.parseComponentPush', () => {
  it('reads a component_verify_ticket push', () => {
    // Act
    const message = parseComponentPush(TICKET);
    // Assess
    assert.equal(message.infoType, 'component_verify_ticket');
    assert.equal(message.appId, 'wx77ea274ef9f3e504');
    assert.equal(message.createTime, 1501996049);
    assert.match(message.componentVerifyTicket, /^ticket@@@-iN0rfTqkOmM.*3A$/);
    assert.equal(isAuthEvent(message), false);
  });

  it('reads a ticket push whose elements come in another order', () => {
    const reordered =
      '<xml><AppId><![CDATA[wx77ea274ef9f3e504]]></AppId><InfoType><![CDATA[component_verify_ticket]]></InfoType>' +
      '<ComponentVerifyTicket><![CDATA[ticket@@@x]]></ComponentVerifyTicket><CreateTime>1501996049</CreateTime></xml>';
    const message = parseComponentPush(reordered);
    assert.equal(message.infoType === 'component_verify_ticket' && message.componentVerifyTicket, 'ticket@@@x');
  });

  it('reads an authorized push with every field, ids kept as strings and times as numbers', () => {
    // Act
    const message = parseComponentPush(AUTHORIZED);
    // Assess
    assert.ok(message.infoType === 'authorized');
    assert.equal(message.authorizerAppid, 'wxc736b9251b3c6c41');
    assert.match(message.authorizationCode, /^queryauthcode@@@Soz/);
    assert.equal(message.authorizationCodeExpiredTime, 1562431985);
    assert.match(message.preAuthCode ?? '', /^preauthcode@@@c4U/);
    assert.equal(isAuthEvent(message), true);
    assert.equal(subjectAppid(message), 'wxc736b9251b3c6c41');
  });

  it('reads an updateauthorized push without PreAuthCode and with the expiry in CDATA', () => {
    const xml = AUTHORIZED.replace('<InfoType>authorized', '<InfoType>updateauthorized')
      .replace(/<PreAuthCode>.*<\/PreAuthCode>/, '')
      .replace('<AuthorizationCodeExpiredTime>1562431985', '<AuthorizationCodeExpiredTime><![CDATA[1562431985]]>');
    const message = parseComponentPush(xml);
    assert.ok(message.infoType === 'updateauthorized');
    assert.equal(message.preAuthCode, undefined);
    assert.equal('preAuthCode' in message, false);
    assert.equal(message.authorizationCodeExpiredTime, 1562431985);
  });

  it('reads an unauthorized push', () => {
    const xml =
      '<xml><AppId>wx304925fbea25bcbe</AppId><CreateTime>1562428400</CreateTime><InfoType>unauthorized</InfoType><AuthorizerAppid>wxc736b9251b3c6c41</AuthorizerAppid></xml>';
    const message = parseComponentPush(xml);
    assert.deepEqual(
      {
        infoType: message.infoType,
        appId: message.appId,
        createTime: message.createTime,
        authorizerAppid: message.infoType === 'unauthorized' && message.authorizerAppid,
      },
      { infoType: 'unauthorized', appId: 'wx304925fbea25bcbe', createTime: 1562428400, authorizerAppid: 'wxc736b9251b3c6c41' },
    );
  });

  it('reads a fast-registration result with its info block', () => {
    // Act
    const message = parseComponentPush(FAST_REGISTER);
    // Assess
    assert.ok(message.infoType === 'notify_third_fasteregister');
    assert.equal(message.appid, 'wx1234567890abcdef');
    assert.equal(message.status, 0);
    assert.equal(message.authCode, 'queryauthcode@@@fast');
    assert.equal(message.msg, 'OK');
    assert.deepEqual(
      { ...message.info },
      { name: 'Acme Ltd', code: '91440300', code_type: '1', legal_persona_wechat: 'lp', legal_persona_name: 'Li', component_phone: '1234' },
    );
    assert.equal(subjectAppid(message), 'wx1234567890abcdef');
    assert.equal(message.fields['info.name'], 'Acme Ltd');
  });

  it('accepts a failed fast registration without appid or auth_code', () => {
    const xml = FAST_REGISTER.replace(
      /<appid>.*<\/appid><status>0<\/status><auth_code>.*<\/auth_code><msg>OK/,
      '<status>89249</status><msg>task running',
    );
    const message = parseComponentPush(xml);
    assert.ok(message.infoType === 'notify_third_fasteregister');
    assert.equal(message.status, 89249);
    assert.equal(message.appid, undefined);
    assert.equal(message.authCode, undefined);
    assert.equal(subjectAppid(message), undefined);
  });

  it('keeps any other InfoType whole as an unknown message', () => {
    const xml =
      '<xml><AppId>wx304925fbea25bcbe</AppId><CreateTime>1700000000</CreateTime><InfoType>notify_3rd_wxa_auth</InfoType><taskid>t1</taskid><MsgId>22449548215715819</MsgId></xml>';
    const message = parseComponentPush(xml);
    assert.ok(message.infoType === 'unknown');
    assert.equal(message.rawInfoType, 'notify_3rd_wxa_auth');
    assert.equal(message.createTime, 1700000000);
    assert.equal(message.fields.MsgId, '22449548215715819');
    assert.equal(isAuthEvent(message), false);
  });

  it('names the missing field in a typed error', () => {
    const cases: [string, string][] = [
      [TICKET.replace(/<ComponentVerifyTicket>.*<\/ComponentVerifyTicket>/, ''), 'ComponentVerifyTicket'],
      [TICKET.replace(/<CreateTime>.*<\/CreateTime>/, ''), 'CreateTime'],
      [TICKET.replace(/<AppId>.*<\/AppId>/, ''), 'AppId'],
      [TICKET.replace(/<InfoType>.*<\/InfoType>/, ''), 'InfoType'],
      [AUTHORIZED.replace(/<AuthorizationCode>.*<\/AuthorizationCode>/, ''), 'AuthorizationCode'],
      [AUTHORIZED.replace(/<AuthorizerAppid>.*<\/AuthorizerAppid>/, ''), 'AuthorizerAppid'],
      [AUTHORIZED.replace(/<AuthorizationCodeExpiredTime>.*<\/AuthorizationCodeExpiredTime>/, ''), 'AuthorizationCodeExpiredTime'],
      [FAST_REGISTER.replace(/<auth_code>.*<\/auth_code>/, ''), 'auth_code'],
      [FAST_REGISTER.replace(/<status>0<\/status>/, ''), 'status'],
      [
        TICKET.replace(/<ComponentVerifyTicket>.*<\/ComponentVerifyTicket>/, '<ComponentVerifyTicket></ComponentVerifyTicket>'),
        'ComponentVerifyTicket',
      ],
    ];
    for (const [xml, field] of cases) {
      const error = errorOf(xml);
      assert.equal(error?.field, field, field);
      assert.equal(error?.problem, 'missing', field);
    }
  });

  it('names the malformed field in a typed error', () => {
    const cases: [string, string][] = [
      [TICKET.replace('1501996049', '15019960.49'), 'CreateTime'],
      [TICKET.replace('1501996049', '-1'), 'CreateTime'],
      [TICKET.replace('wx77ea274ef9f3e504', 'not-an-appid'), 'AppId'],
      [TICKET.replace('component_verify_ticket', 'component verify ticket'), 'InfoType'],
      [AUTHORIZED.replace('wxc736b9251b3c6c41', 'wxc736b9251b3c6c41x'), 'AuthorizerAppid'],
      [AUTHORIZED.replace('1562431985', 'soon'), 'AuthorizationCodeExpiredTime'],
      [FAST_REGISTER.replace('<status>0', '<status>ok'), 'status'],
      [FAST_REGISTER.replace('wx1234567890abcdef', '12'), 'appid'],
      [TICKET.replace('ticket@@@', `ticket@@@${'x'.repeat(1100)}`), 'ComponentVerifyTicket'],
      // A repeated field inside a nested document (which the general parser reads) is ambiguous too.
      [FAST_REGISTER.replace('</info>', '</info><info><name>B</name></info>'), 'info'],
    ];
    for (const [xml, field] of cases) {
      const error = errorOf(xml);
      assert.equal(error?.field, field, field);
      assert.equal(error?.problem, 'malformed', field);
    }
  });

  it('passes XML errors through as XmlError', () => {
    assert.throws(
      () => parseComponentPush('<!DOCTYPE x><xml/>'),
      (e: unknown) => e instanceof XmlError && e.reason === 'declaration',
    );
  });

  it('refuses a flat push that repeats a field, as an XmlError naming it', () => {
    assert.throws(
      () => parseComponentPush(AUTHORIZED.replace('</xml>', '<AuthorizerAppid>wxc736b9251b3c6c42</AuthorizerAppid></xml>')),
      (e: unknown) => e instanceof XmlError && e.reason === 'duplicate' && e.message.includes('AuthorizerAppid'),
    );
  });
});

describe('messages.componentPushFromFields', () => {
  it('rebuilds the same message from its flat fields, as stored in an EVENT payload', () => {
    for (const xml of [TICKET, AUTHORIZED, FAST_REGISTER]) {
      const message = parseComponentPush(xml);
      const payload = JSON.parse(JSON.stringify(message.fields)) as Record<string, string>;
      assert.deepEqual(JSON.parse(JSON.stringify(componentPushFromFields(payload))), JSON.parse(JSON.stringify(message)));
    }
  });
});
