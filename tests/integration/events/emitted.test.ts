// Every event type this platform produces, produced the way it happens in production: WeChat's pushes and
// messages through the real handlers, the stream through `authorized` and `events`, the real EventBridge client
// onto the local bus. Each delivered line is validated against its schema in docs/events/ and scanned for
// secrets (the values the simulator and the table actually hold, credential prefixes, credential-like fields).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { authorizationXml } from '../../../infra/local/simulator/pusher.ts';
import { DETAIL_TYPES, DetailType, schemaName } from '../../../lib/events/catalogue.ts';
import { getAuthorizer } from '../../../lib/store/authorizers.ts';
import { authorizerKey } from '../../../lib/store/keys.ts';
import { getAuthorizerAccessToken, refreshAuthorizerTokenIfDue } from '../../../lib/tokens/authorizer-token.ts';
import { EVENTS_PATH, SIMULATOR_COMPONENT, startEventsPlatform, type EventsPlatform } from '../../helpers/events-platform.ts';
import { validate } from '../../helpers/json-schema.ts';
import { findSecrets } from '../../helpers/secret-scan.ts';
import { eventXml, sealMessage, textXml } from '../../helpers/wechat-message.ts';
import { fastRegisterXml } from '../../helpers/wechat-push.ts';

const MESSAGE_APPID = 'wx0e0e0e0e0e0e0e01';
const SCHEMAS = new URL('../../../docs/events/', import.meta.url);
let offsetMs = 0;
const clock = () => Date.now() + offsetMs;
const nowS = () => Math.floor(clock() / 1000);
/** Pushes carry CreateTime in seconds: later changes must be later seconds. */
const pass = (seconds: number) => {
  offsetMs += seconds * 1000;
};
let p: EventsPlatform;

const ofType = (type: string, appid?: string) => p.events().filter((e) => e.DetailType === type && (!appid || e.Detail.authorizerAppid === appid));
const push = (xml: string, label: string) => p.sim.deliver(`${p.server.url}${EVENTS_PATH}`, xml, { label, timestamp: nowS() });
const settle = async () => {
  await p.drain();
  await p.drain();
};
const refresh = (appid: string) => refreshAuthorizerTokenIfDue(p.deps, appid, { dueBefore: nowS() + 10 * 86_400 }).catch((e: unknown) => e);

const sendMessage = async (innerXml: string, userName: string) => {
  const sealed = sealMessage(SIMULATOR_COMPONENT, {
    authorizerAppid: MESSAGE_APPID,
    toUser: userName,
    openid: 'oUserOpenid0001',
    innerXml,
    timestamp: nowS(),
  });
  const url = `${p.server.url}${sealed.path}?${new URLSearchParams(sealed.query)}`;
  const response = await fetch(url, { method: 'POST', body: sealed.body });
  return response.status;
};

before(async () => {
  p = await startEventsPlatform({ clock, accountMessageEvents: 'text,event:subscribe', messageAppids: [MESSAGE_APPID] });
});
after(async () => {
  await p?.stop();
});

describe('events emitted by the platform', () => {
  it('announces a new grant once, however often WeChat delivers its push', async () => {
    // Prepare
    const { authorizerAppid, authorizationCode } = await p.sim.authorize({ push: false, funcInfo: [15, 1, 2] });
    const xml = authorizationXml({
      appId: SIMULATOR_COMPONENT.appId,
      createTime: nowS(),
      infoType: 'authorized',
      authorizerAppid,
      authorizationCode,
    });
    // Act
    for (let i = 0; i < 3; i += 1) assert.equal((await push(xml, 'authorized')).status, 200);
    await settle();
    // Assess
    const [event, ...more] = ofType(DetailType.AuthorizerAuthorized, authorizerAppid);
    assert.equal(more.length, 0);
    assert.equal(event?.Source, 'wechat.component');
    assert.deepEqual(event?.Detail.funcInfo, [1, 2, 15]);
    assert.equal(event?.Detail.componentAppId, SIMULATOR_COMPONENT.appId);
    assert.equal(event?.Detail.occurredAt, new Date(event?.Time ?? 0).toISOString());
  });

  it('announces changed permissions, a revocation with the tenant on the profile, and nothing for an account already revoked', async () => {
    // Prepare
    const { authorizerAppid } = await p.sim.authorize({ funcInfo: [1, 2] });
    await settle();
    pass(2);
    // Act
    await p.sim.reauthorize(authorizerAppid, { funcInfo: [1, 2, 18] });
    await settle();
    // The tenant a signed link would have put on the profile.
    const key = authorizerKey(authorizerAppid, 'PROFILE');
    await p.table.doc.send(
      new UpdateCommand({ TableName: p.table.tableName, Key: key, UpdateExpression: 'SET tenant = :t', ExpressionAttributeValues: { ':t': 't1' } }),
    );
    pass(2);
    await p.sim.unauthorize(authorizerAppid);
    await settle();
    pass(2);
    await p.sim.unauthorize(authorizerAppid);
    await settle();
    // Assess
    const [updated, ...moreUpdates] = ofType(DetailType.AuthorizerUpdated, authorizerAppid);
    assert.equal(moreUpdates.length, 0);
    assert.deepEqual(updated?.Detail.added, [18]);
    assert.deepEqual(updated?.Detail.removed, []);
    const unauthorized = ofType(DetailType.AuthorizerUnauthorized, authorizerAppid);
    assert.equal(unauthorized.length, 1, 'the second unauthorized push revokes nothing new');
    assert.equal(unauthorized[0]?.Detail.tenant, 't1');
    assert.equal(unauthorized[0]?.Detail.detectedBy, 'push');
  });

  it('announces a 61003 found by a refresh once, and not again when the unauthorized push follows', async () => {
    // Prepare
    const { authorizerAppid } = await p.sim.authorize({});
    await settle();
    await p.sim.unauthorize(authorizerAppid, { push: false });
    // Act
    const error = await refresh(authorizerAppid);
    pass(2);
    await p.sim.unauthorize(authorizerAppid);
    await settle();
    // Assess
    assert.ok(error instanceof Error);
    const events = ofType(DetailType.AuthorizerUnauthorized, authorizerAppid);
    assert.deepEqual(
      events.map((e) => e.Detail.detectedBy),
      ['refresh'],
    );
  });

  it('announces a lasting refresh failure once per errcode, and needs_reauth then recovery by a new grant', async () => {
    // Prepare
    const { authorizerAppid } = await p.sim.authorize({ funcInfo: [1] });
    await settle();
    // Act: 45009 twice (one event), then 61023 for the refresh token and the listed one (needs_reauth).
    p.sim.inject({ api: 'api_authorizer_token', errcode: 45009, times: 2 });
    await refresh(authorizerAppid);
    await refresh(authorizerAppid);
    p.sim.inject({ api: 'api_authorizer_token', errcode: 61023, times: 3 });
    await refresh(authorizerAppid);
    await settle();
    const marked = (await getAuthorizer(p.deps, authorizerAppid))?.status;
    pass(2);
    await p.sim.reauthorize(authorizerAppid, { funcInfo: [1, 4] });
    await settle();
    // Assess
    const failed = ofType(DetailType.TokenRefreshFailed, authorizerAppid);
    assert.equal(failed.length, 1);
    assert.equal(failed[0]?.Detail.errcode, 45009);
    assert.equal(failed[0]?.Detail.api, 'component/api_authorizer_token');
    assert.equal(marked, 'needs_reauth');
    assert.equal(ofType(DetailType.AuthorizerNeedsReauthorization, authorizerAppid).length, 1);
    const [recovered] = ofType(DetailType.AuthorizerRecovered, authorizerAppid);
    assert.deepEqual(recovered?.Detail.funcInfo, [1, 4]);
    assert.equal((await getAuthorizer(p.deps, authorizerAppid))?.refreshFailure, undefined, 'the new grant clears the failure');
    assert.ok((await getAuthorizerAccessToken(p.deps, authorizerAppid)).accessToken);
  });

  it('announces a fast registration, with the new mini program authorized in the same write, and a failed one', async () => {
    // Prepare
    const { authorizerAppid, authorizationCode } = await p.sim.authorize({ push: false, kind: 'miniprogram' });
    const failedXml = fastRegisterXml({ appId: SIMULATOR_COMPONENT.appId, createTime: nowS(), appid: '', authCode: '' })
      .replace('<status>0</status>', '<status>89249</status>')
      .replace('<msg>OK</msg>', '<msg>task running</msg>');
    // Act
    await push(
      fastRegisterXml({ appId: SIMULATOR_COMPONENT.appId, createTime: nowS(), appid: authorizerAppid, authCode: authorizationCode }),
      'fast',
    );
    await push(failedXml, 'fast');
    await settle();
    // Assess
    const results = ofType(DetailType.FastRegistrationCompleted);
    const ok = results.find((e) => e.Detail.succeeded === true);
    const failed = results.find((e) => e.Detail.succeeded === false);
    assert.equal(results.length, 2);
    assert.equal(ok?.Detail.authorizerAppid, authorizerAppid);
    assert.equal(ok?.Detail.name, 'Acme Ltd');
    assert.equal(failed?.Detail.status, 89249);
    assert.equal(failed?.Detail.authorizerAppid, undefined);
    assert.equal(ofType(DetailType.AuthorizerAuthorized, authorizerAppid).length, 1);
  });

  it('announces the selected account messages once each, WeChat retries included, and leaves the others alone', async () => {
    // Prepare
    await p.sim.authorize({ authorizerAppid: MESSAGE_APPID, funcInfo: [1] });
    await settle();
    const userName = (await getAuthorizer(p.deps, MESSAGE_APPID))?.info?.userName ?? '';
    const text = textXml({ toUser: userName, fromUser: 'oUserOpenid0001', createTime: nowS(), content: 'hello', msgId: '22449548215715819' });
    const subscribe = eventXml({
      toUser: userName,
      fromUser: 'oUserOpenid0002',
      createTime: nowS(),
      event: 'subscribe',
      extra:
        '<EventKey><![CDATA[qrscene_7]]></EventKey><Ticket><![CDATA[gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3TVRtNzJXV1Brb3ZhYmJJAAIEZ23sUwMEmm3sUw==]]></Ticket>',
    });
    const click = eventXml({
      toUser: userName,
      fromUser: 'oUserOpenid0003',
      createTime: nowS(),
      event: 'CLICK',
      extra: '<EventKey><![CDATA[menu]]></EventKey>',
    });
    // Act
    const statuses = [
      await sendMessage(text, userName),
      await sendMessage(text, userName),
      await sendMessage(subscribe, userName),
      await sendMessage(click, userName),
    ];
    await settle();
    // Assess
    assert.deepEqual(statuses, [200, 200, 200, 200]);
    const messages = ofType(DetailType.AccountMessage, MESSAGE_APPID);
    assert.deepEqual(
      messages.map((m) => [m.Detail.msgType, m.Detail.event ?? null]),
      [
        ['text', null],
        ['event', 'subscribe'],
      ],
    );
    assert.deepEqual(messages[0]?.Detail.fields, { Content: 'hello' });
    assert.equal(messages[0]?.Detail.msgId, '22449548215715819');
    assert.deepEqual(messages[1]?.Detail.fields, { EventKey: 'qrscene_7' }, 'the QR ticket never leaves');
  });

  it('validates every delivered event against its schema, covers every type this platform emits, and finds no secret in any', async () => {
    // Prepare
    const known = new Set<string>([SIMULATOR_COMPONENT.appSecret, SIMULATOR_COMPONENT.token, SIMULATOR_COMPONENT.encodingAesKey]);
    for (const account of p.sim.accounts()) if (account.refreshToken) known.add(account.refreshToken);
    const { Items = [] } = await p.table.doc.send(new ScanCommand({ TableName: p.table.tableName }));
    for (const item of Items) {
      for (const name of ['ticket', 'accessToken', 'refreshToken', 'previousRefreshToken']) if (typeof item[name] === 'string') known.add(item[name]);
      const payload = (item.payload ?? {}) as Record<string, unknown>;
      for (const name of ['AuthorizationCode', 'PreAuthCode', 'auth_code', 'ComponentVerifyTicket'])
        if (typeof payload[name] === 'string') known.add(payload[name]);
    }
    // Act
    const events = p.events();
    const problems = events.flatMap((e) => {
      const schema = JSON.parse(readFileSync(new URL(`${schemaName(e.DetailType as never)}.schema.json`, SCHEMAS), 'utf8'));
      return [...validate(schema, e.Detail).map((x) => `${e.DetailType} ${x}`), ...findSecrets(e, known).map((x) => `${e.DetailType} ${x}`)];
    });
    // Assess
    assert.deepEqual(problems, []);
    const fleet = [DetailType.MiniProgramAuditSucceeded, DetailType.MiniProgramAuditFailed, DetailType.MiniProgramAuditDelayed];
    const emittedHere = DETAIL_TYPES.filter((t) => ![...fleet, DetailType.RolloutAccountUpdated, DetailType.RolloutCompleted].includes(t as never));
    assert.deepEqual([...new Set(events.map((e) => e.DetailType))].sort(), [...emittedHere].sort());
    assert.equal(new Set(events.map((e) => e.Detail.eventId)).size, events.length, 'one line per event id');
    assert.ok(known.size > 10, `collected ${known.size} secret values to look for`);
  });
});
