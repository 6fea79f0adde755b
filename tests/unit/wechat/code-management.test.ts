import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { MockAgent } from 'undici';
import { createMemoryLogger } from '../../../lib/kernel/logger.ts';
import { createWeChatClient, type WeChatClientOptions } from '../../../lib/wechat/client.ts';
import {
  codeCallPolicy,
  isAlreadyAuditing,
  isAlreadyReleased,
  isNoAudit,
  isNotManagedByComponent,
  isPrivacyScanPending,
  isSubmitQuotaExhausted,
  WeChatApiError,
  WeChatNetworkError,
  WeChatProtocolError,
} from '../../../lib/wechat/errors.ts';

const BASE = 'https://api.wechat.test';
const COMPONENT_TOKEN = 'component-token-Zq81Lm0';
const TOKEN = 'authorizer-token-Mp77xq';

interface Call {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
}
type Answer = { status?: number; json?: unknown; bytes?: Buffer; contentType?: string; delayMs?: number; error?: Error };

const agents: MockAgent[] = [];
afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.close();
});

const setup = (options: Partial<WeChatClientOptions> = {}) => {
  const agent = new MockAgent();
  agent.disableNetConnect();
  agents.push(agent);
  const pool = agent.get(BASE);
  const logger = createMemoryLogger();
  const client = createWeChatClient({ baseUrl: BASE, logger, dispatcher: agent, retryBaseMs: 1, ...options });
  const calls: Call[] = [];
  const answer = (method: 'GET' | 'POST', path: string, a: Answer) => {
    const scope = pool.intercept({ path: (p: string) => p.split('?')[0] === path, method });
    if (a.error) {
      scope.replyWithError(a.error);
      return;
    }
    const reply = scope.reply((opts) => {
      const url = new URL(opts.path, BASE);
      calls.push({
        method: opts.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        body: opts.body === undefined || opts.body === null ? undefined : JSON.parse(String(opts.body)),
      });
      const data = a.bytes ?? JSON.stringify(a.json ?? { errcode: 0, errmsg: 'ok' });
      return { statusCode: a.status ?? 200, data, responseOptions: { headers: { 'content-type': a.contentType ?? 'application/json' } } };
    });
    if (a.delayMs) reply.delay(a.delayMs);
  };
  return { agent, client, calls, answer, logger };
};

describe('code management: the template library', () => {
  it('lists drafts and templates with GET and the component token as access_token, and adds and deletes with POST', async () => {
    // Prepare
    const { agent, client, calls, answer } = setup();
    answer('GET', '/wxa/gettemplatedraftlist', {
      json: {
        errcode: 0,
        draft_list: [{ create_time: 1488965944, user_version: 'VVV', user_desc: 'AAS', draft_id: 0, source_miniprogram_appid: 'wxdev0000000000001' }],
      },
    });
    answer('POST', '/wxa/addtotemplate', {});
    answer('GET', '/wxa/gettemplatelist', {
      json: { errcode: 0, template_list: [{ create_time: 1488965944, user_version: '1.0.0', user_desc: 'demo', template_id: 3, template_type: 0 }] },
    });
    answer('POST', '/wxa/deletetemplate', {});
    // Act
    const drafts = await client.getTemplateDraftList(COMPONENT_TOKEN);
    await client.addToTemplate(COMPONENT_TOKEN, { draftId: 0, templateType: 0 });
    const templates = await client.getTemplateList(COMPONENT_TOKEN, { templateType: 0 });
    await client.deleteTemplate(COMPONENT_TOKEN, { templateId: 3 });
    // Assess
    assert.deepEqual(drafts, [
      { draftId: 0, userVersion: 'VVV', userDesc: 'AAS', createTime: 1488965944, sourceMiniprogramAppid: 'wxdev0000000000001' },
    ]);
    assert.deepEqual(templates, [{ templateId: 3, userVersion: '1.0.0', userDesc: 'demo', createTime: 1488965944, templateType: 0 }]);
    assert.deepEqual(
      calls.map((c) => [c.method, c.path, c.query, c.body]),
      [
        ['GET', '/wxa/gettemplatedraftlist', { access_token: COMPONENT_TOKEN }, undefined],
        ['POST', '/wxa/addtotemplate', { access_token: COMPONENT_TOKEN }, { draft_id: 0, template_type: 0 }],
        ['GET', '/wxa/gettemplatelist', { access_token: COMPONENT_TOKEN, template_type: '0' }, undefined],
        ['POST', '/wxa/deletetemplate', { access_token: COMPONENT_TOKEN }, { template_id: 3 }],
      ],
    );
    agent.assertNoPendingInterceptors();
  });
});

describe('code management: commit and audit', () => {
  it('sends ext_json as a string, whether given as an object or as text', async () => {
    // Prepare
    const { client, calls, answer } = setup();
    answer('POST', '/wxa/commit', {});
    answer('POST', '/wxa/commit', {});
    const ext = { extAppid: 'wx1111222233334444', ext: { shop: 'Tea' } };
    // Act
    await client.commit(TOKEN, { templateId: 1, extJson: ext, userVersion: '1.0.0', userDesc: 'demo' });
    await client.commit(TOKEN, { templateId: 1, extJson: '{"extEnable":true}', userVersion: '1.0.1', userDesc: 'demo' });
    // Assess
    assert.deepEqual(calls[0]?.body, { template_id: 1, ext_json: JSON.stringify(ext), user_version: '1.0.0', user_desc: 'demo' });
    assert.equal((calls[1]!.body as { ext_json: unknown }).ext_json, '{"extEnable":true}');
    assert.deepEqual(calls[0]?.query, { access_token: TOKEN });
  });

  it('submits the audit fields in WeChat spelling and returns the audit id as a number', async () => {
    // Prepare
    const { client, calls, answer } = setup();
    answer('POST', '/wxa/submit_audit', { json: { errcode: 0, errmsg: 'ok', auditid: 429827924 } });
    // Act
    const result = await client.submitAudit(TOKEN, {
      itemList: [
        { address: 'pages/index/index', tag: 'shop tea', firstClass: '工具', secondClass: '效率', firstId: 287, secondId: 612, title: 'Home' },
      ],
      versionDesc: 'first release',
      ugcDeclare: { scene: [0], method: [4], hasAuditTeam: 0 },
      privacyApiNotUse: true,
    });
    // Assess
    assert.deepEqual(result, { auditId: 429827924 });
    assert.deepEqual(calls[0]?.body, {
      item_list: [
        { address: 'pages/index/index', tag: 'shop tea', first_class: '工具', second_class: '效率', first_id: 287, second_id: 612, title: 'Home' },
      ],
      version_desc: 'first release',
      ugc_declare: { scene: [0], method: [4], has_audit_team: 0 },
      privacy_api_not_use: true,
    });
  });

  it('never repeats a submission after a timeout, and reports it as an outcome to check', async () => {
    // Prepare
    const { agent, client, calls, answer } = setup({ timeoutMs: 40 });
    answer('POST', '/wxa/submit_audit', { json: { errcode: 0, auditid: 1 }, delayMs: 300 });
    // Act
    const error = await client.submitAudit(TOKEN, {}).catch((e: unknown) => e);
    // Assess
    assert.ok(error instanceof WeChatNetworkError && error.attempts === 1 && error.timedOut);
    assert.deepEqual(codeCallPolicy(error), { kind: 'unknown' });
    assert.equal(calls.length, 1, 'the one request WeChat received, and no second');
    agent.assertNoPendingInterceptors();
  });

  it('retries a read after a 5xx and a reset connection', async () => {
    // Prepare
    const { agent, client, answer } = setup();
    answer('GET', '/wxa/queryquota', { status: 502, bytes: Buffer.from('Bad Gateway'), contentType: 'text/html' });
    answer('GET', '/wxa/queryquota', { error: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });
    answer('GET', '/wxa/queryquota', { json: { errcode: 0, rest: 0, limit: 20, speedup_rest: 0, speedup_limit: 0 } });
    // Act
    const quota = await client.queryQuota(TOKEN);
    // Assess
    assert.deepEqual(quota, { rest: 0, limit: 20, speedupRest: 0, speedupLimit: 0 });
    agent.assertNoPendingInterceptors();
  });

  it('reads the latest audit in either screenshot spelling and the audit status enum', async () => {
    // Prepare
    const { client, answer } = setup();
    answer('GET', '/wxa/get_latest_auditstatus', {
      json: {
        errcode: 0,
        auditid: 537207765,
        status: 1,
        reason: '1:账号信息不符合规范<br>',
        ScreenShot: 'm1|m2',
        user_version: '3.92.0',
        submit_audit_time: 1700532311,
      },
    });
    answer('POST', '/wxa/get_auditstatus', { json: { errcode: 0, status: 0 } });
    answer('POST', '/wxa/get_auditstatus', { json: { errcode: 0, status: 9 } });
    // Act
    const latest = await client.getLatestAuditStatus(TOKEN);
    const approved = await client.getAuditStatus(TOKEN, { auditId: 537207765 });
    const unknown = await client.getAuditStatus(TOKEN, { auditId: 537207765 }).catch((e: unknown) => e);
    // Assess
    assert.deepEqual(latest, {
      status: 1,
      reason: '1:账号信息不符合规范<br>',
      screenshots: ['m1', 'm2'],
      auditId: 537207765,
      userVersion: '3.92.0',
      submitAuditTime: 1700532311,
    });
    assert.deepEqual(approved, { status: 0, screenshots: [] });
    assert.ok(unknown instanceof WeChatProtocolError && unknown.reason.includes('status'));
  });
});

describe('code management: versions, release and phased release', () => {
  it('posts the literal {} to getversioninfo and release, and reads an empty release_version as never released', async () => {
    // Prepare
    const { client, calls, answer } = setup();
    answer('POST', '/wxa/getversioninfo', {
      json: { errcode: 0, exp_info: { exp_time: 1700000000, exp_version: '1.0.0', exp_desc: 'demo' }, release_info: { release_version: '' } },
    });
    answer('POST', '/wxa/release', {});
    // Act
    const info = await client.getVersionInfo(TOKEN);
    await client.release(TOKEN);
    // Assess
    assert.deepEqual(info, { trial: { time: 1700000000, version: '1.0.0', desc: 'demo' } });
    assert.deepEqual(
      calls.map((c) => c.body),
      [{}, {}],
    );
  });

  it('reverts with app_version in the query, lists history with action, and runs a phased release', async () => {
    // Prepare
    const { agent, client, calls, answer } = setup();
    answer('GET', '/wxa/revertcoderelease', {});
    answer('GET', '/wxa/revertcoderelease', {
      json: { errcode: 0, version_list: [{ app_version: 5, user_version: '1.0.0', user_desc: 'demo', commit_time: 1 }] },
    });
    answer('POST', '/wxa/grayrelease', {});
    answer('GET', '/wxa/getgrayreleaseplan', {
      json: {
        errcode: 0,
        gray_release_plan: { status: 1, create_timestamp: 2, gray_percentage: 10, support_experiencer_first: true, support_debuger_first: false },
      },
    });
    answer('GET', '/wxa/revertgrayrelease', {});
    // Act
    await client.revertCodeRelease(TOKEN, { appVersion: 4 });
    const history = await client.getHistoryVersion(TOKEN);
    await client.grayRelease(TOKEN, { grayPercentage: 10, supportExperiencerFirst: true });
    const plan = await client.getGrayReleasePlan(TOKEN);
    await client.revertGrayRelease(TOKEN);
    // Assess
    assert.deepEqual(calls[0]?.query, { access_token: TOKEN, app_version: '4' });
    assert.deepEqual(calls[1]?.query, { access_token: TOKEN, action: 'get_history_version' });
    assert.deepEqual(history, [{ appVersion: 5, userVersion: '1.0.0', userDesc: 'demo', commitTime: 1 }]);
    assert.deepEqual(calls[2]?.body, { gray_percentage: 10, support_experiencer_first: true });
    assert.deepEqual(plan, { status: 1, createTimestamp: 2, grayPercentage: 10, supportDebugerFirst: false, supportExperiencerFirst: true });
    agent.assertNoPendingInterceptors();
  });
});

describe('code management: pages, QR code, categories, domains, privacy', () => {
  it('returns the trial QR code as bytes, and a JSON answer as the error it reports', async () => {
    // Prepare
    const { client, calls, answer } = setup();
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0xff, 0xd9]);
    answer('GET', '/wxa/get_qrcode', { bytes: jpeg, contentType: 'image/jpeg' });
    answer('GET', '/wxa/get_qrcode', { json: { errcode: 40001, errmsg: 'invalid credential' } });
    // Act
    const qr = await client.getQrcode(TOKEN, { path: 'page/index?action=1' });
    const error = await client.getQrcode(TOKEN).catch((e: unknown) => e);
    // Assess
    assert.deepEqual(qr, { contentType: 'image/jpeg', image: jpeg });
    assert.deepEqual(calls[0]?.query, { access_token: TOKEN, path: 'page/index?action=1' });
    assert.ok(error instanceof WeChatApiError && error.errcode === 40001 && error.api === 'wxa/get_qrcode');
  });

  it('reads pages, categories, privacy scan results and domains', async () => {
    // Prepare
    const { client, calls, answer } = setup();
    answer('GET', '/wxa/get_page', { json: { errcode: 0, page_list: ['index', 'page/list'] } });
    answer('GET', '/wxa/get_category', {
      json: { errcode: 0, category_list: [{ first_class: '工具', second_class: '效率', first_id: 287, second_id: 612 }] },
    });
    answer('GET', '/wxa/security/get_code_privacy_info', { json: { errcode: 0, without_auth_list: ['wx.getLocation'], without_conf_list: [] } });
    answer('POST', '/wxa/modify_domain', {
      json: {
        errcode: 0,
        requestdomain: ['https://a.example'],
        wsrequestdomain: [],
        uploaddomain: [],
        downloaddomain: [],
        invalid_requestdomain: ['https://x.example'],
      },
    });
    answer('POST', '/wxa/modify_domain', { json: { errcode: 0, requestdomain: ['https://a.example'] } });
    answer('POST', '/wxa/setwebviewdomain', { json: { errcode: 0, webviewdomain: ['https://h5.example'] } });
    answer('POST', '/cgi-bin/component/setprivacysetting', {});
    // Act
    const pages = await client.getPage(TOKEN);
    const categories = await client.getCategory(TOKEN);
    const privacy = await client.getCodePrivacyInfo(TOKEN);
    const set = await client.modifyDomain(TOKEN, { action: 'set', requestDomain: ['https://a.example', 'https://x.example'] });
    await client.modifyDomain(TOKEN, { action: 'get', requestDomain: ['ignored'] });
    const webview = await client.setWebviewDomain(TOKEN, { action: 'add', webviewDomain: ['https://h5.example'] });
    await client.setPrivacySetting(TOKEN, {
      privacyVer: 2,
      ownerSetting: { contactEmail: 'ops@example.com', noticeMethod: '弹窗' },
      settingList: [],
    });
    // Assess
    assert.deepEqual(pages, ['index', 'page/list']);
    assert.deepEqual(categories, [{ firstClass: '工具', secondClass: '效率', firstId: 287, secondId: 612 }]);
    assert.deepEqual(privacy, { withoutAuthList: ['wx.getLocation'], withoutConfList: [] });
    assert.deepEqual(set.domains.requestDomain, ['https://a.example']);
    assert.deepEqual(set.invalid, { requestDomain: ['https://x.example'] });
    assert.deepEqual(calls[3]?.body, { action: 'set', requestdomain: ['https://a.example', 'https://x.example'] });
    assert.deepEqual(calls[4]?.body, { action: 'get' });
    assert.deepEqual(webview, ['https://h5.example']);
    assert.deepEqual(calls[5]?.body, { action: 'add', webviewdomain: ['https://h5.example'] });
    assert.deepEqual(calls[6]?.body, {
      privacy_ver: 2,
      owner_setting: { contact_email: 'ops@example.com', notice_method: '弹窗' },
      setting_list: [],
    });
  });
});

describe('code management errors', () => {
  it('turns each documented code into a typed error with its retry policy', async () => {
    // Prepare
    const { client, answer } = setup();
    const codes = [85009, 85085, 86000, 61007, 61039, 85052, 86001, 85013, 9402202, -1];
    for (const errcode of codes) {
      const times = errcode === -1 ? 3 : 1; // -1 is retried by the client twice before it gives up
      for (let i = 0; i < times; i += 1) answer('POST', '/wxa/submit_audit', { json: { errcode, errmsg: `e${errcode} rid: 1` } });
    }
    // Act
    const errors: unknown[] = [];
    for (const _ of codes) errors.push(await client.submitAudit(TOKEN, {}).catch((e: unknown) => e));
    // Assess
    assert.ok(errors.every((e) => e instanceof WeChatApiError && e.api === 'wxa/submit_audit'));
    assert.deepEqual(
      [
        isAlreadyAuditing,
        isSubmitQuotaExhausted,
        isNotManagedByComponent,
        isNotManagedByComponent,
        isPrivacyScanPending,
        isAlreadyReleased,
        isNoAudit,
      ].map((is, i) => is(errors[i])),
      [true, true, true, true, true, true, true],
    );
    assert.deepEqual(
      errors.map((e) => codeCallPolicy(e)),
      [
        { kind: 'retry', afterS: 1800 },
        { kind: 'quota' },
        { kind: 'permanent' },
        { kind: 'permanent' },
        { kind: 'retry', afterS: 60 },
        { kind: 'permanent' },
        { kind: 'permanent' },
        { kind: 'permanent' },
        { kind: 'retry', afterS: 60 },
        { kind: 'retry', afterS: 60 },
      ],
    );
  });

  it('reads a 4xx as refused and an unreadable success body as an outcome to check', () => {
    assert.deepEqual(codeCallPolicy(new WeChatProtocolError('wxa/commit', 'HTTP 404', 404)), { kind: 'permanent' });
    assert.deepEqual(codeCallPolicy(new WeChatProtocolError('wxa/submit_audit', 'auditid is missing or not a number')), { kind: 'unknown' });
    assert.deepEqual(codeCallPolicy(new WeChatProtocolError('wxa/release', 'HTTP 503', 503)), { kind: 'unknown' });
  });
});
