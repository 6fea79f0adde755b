// The mini-program code-management APIs the simulator answers (docs/fleet.md), with WeChat's methods, shapes and
// error codes: the template library (component token) and, per mini program (its authorizer token, permission set
// 18), commit, pages, QR code, categories, the privacy scan, version info, audits, quota, release, revert, phased
// release, domains and the privacy guideline.
import type { ApiRequest, ApiRoute, BinaryAnswer } from './api.ts';
import type { AuditQueue } from './audits.ts';
import { codeOf, DOMAIN_LISTS, latestAudit, type CodeState, type MiniProgramCode } from './code-state.ts';
import { checkAuthorizerToken, checkComponentToken, fail, nowS, OK_BODY, type Account } from './state.ts';
import { createReleaseRoutes } from './code-release.ts';

const int = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isInteger(value) ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : undefined;

const componentCall = (request: ApiRequest): void => {
  checkComponentToken(request.state, request.query.get('access_token') ?? request.query.get('component_access_token'));
};

/** The mini program of the token, counted; 61007 without permission set 18. */
export const miniProgramCall = (code: CodeState, request: ApiRequest, api: string): { account: Account; mp: MiniProgramCode } => {
  const account = checkAuthorizerToken(request.state, request.query.get('access_token'));
  const mp = codeOf(code, account.appid);
  mp.calls[api] = (mp.calls[api] ?? 0) + 1;
  if (account.kind !== 'miniprogram' || !account.funcInfo.includes(18)) fail(61007, 'api is unauthorized to component');
  return { account, mp };
};

const draftList = (code: CodeState) => (request: ApiRequest) => {
  componentCall(request);
  return {
    ...OK_BODY,
    draft_list: [...code.drafts.values()].map((d) => ({
      create_time: d.createTime,
      user_version: d.userVersion,
      user_desc: d.userDesc,
      draft_id: d.draftId,
    })),
  };
};

const addToTemplate = (code: CodeState) => (request: ApiRequest) => {
  componentCall(request);
  const draft = code.drafts.get(int(request.body.draft_id) ?? -1);
  if (!draft) return fail(85064, 'template not found');
  if (code.templates.size >= 200) fail(85065, 'template list is full');
  const templateId = code.nextTemplateId++;
  code.templates.set(templateId, { ...draft, templateId, templateType: int(request.body.template_type) ?? 0, createTime: nowS(request.state) });
  return OK_BODY;
};

const templateList = (code: CodeState) => (request: ApiRequest) => {
  componentCall(request);
  const type = request.query.get('template_type');
  const list = [...code.templates.values()].filter((t) => type === null || String(t.templateType) === type);
  return {
    ...OK_BODY,
    template_list: list.map((t) => ({
      create_time: t.createTime,
      user_version: t.userVersion,
      user_desc: t.userDesc,
      template_id: t.templateId,
      draft_id: t.draftId,
      template_type: t.templateType,
    })),
  };
};

const deleteTemplate = (code: CodeState) => (request: ApiRequest) => {
  componentCall(request);
  if (!code.templates.delete(int(request.body.template_id) ?? -1)) fail(85064, 'template not found');
  return OK_BODY;
};

const commit = (code: CodeState) => (request: ApiRequest) => {
  const { mp } = miniProgramCall(code, request, 'commit');
  const { body } = request;
  if (!code.templates.has(int(body.template_id) ?? -1)) fail(85014, 'template not exist');
  if (typeof body.ext_json !== 'string') return fail(85013, 'invalid ext_json');
  try {
    JSON.parse(body.ext_json);
  } catch {
    fail(85048, 'ext_json parse fail');
  }
  const userVersion = body.user_version;
  if (typeof userVersion !== 'string' || userVersion === '' || userVersion.length > 64 || typeof body.user_desc !== 'string')
    fail(40097, 'invalid args');
  mp.trial = {
    templateId: int(body.template_id) ?? 0,
    userVersion: String(userVersion),
    userDesc: String(body.user_desc),
    extJson: body.ext_json,
    time: nowS(request.state),
  };
  mp.scanUntil = request.state.clock() + code.privacyScanMs;
  return OK_BODY;
};

const getPage = (code: CodeState) => (request: ApiRequest) => {
  const { mp } = miniProgramCall(code, request, 'get_page');
  if (!mp.trial) fail(86001, 'not existed code');
  return { ...OK_BODY, page_list: ['pages/index/index', 'pages/shop/shop'] };
};

/** A tiny JPEG (start and end markers around a JFIF header). */
const TRIAL_QR = Buffer.from('ffd8ffe000104a46494600010100000100010000ffd9', 'hex');

const getQrcode =
  (code: CodeState) =>
  (request: ApiRequest): BinaryAnswer => {
    miniProgramCall(code, request, 'get_qrcode');
    return { binary: TRIAL_QR, contentType: 'image/jpeg' };
  };

const getCategory = (code: CodeState) => (request: ApiRequest) => {
  miniProgramCall(code, request, 'get_category');
  return { ...OK_BODY, category_list: [{ first_class: '工具', second_class: '效率', first_id: 287, second_id: 612 }] };
};

const privacyInfo = (code: CodeState) => (request: ApiRequest) => {
  const { mp } = miniProgramCall(code, request, 'get_code_privacy_info');
  if (mp.scanUntil > request.state.clock()) fail(61039, 'privacy info is not ready, please try again later');
  return { ...OK_BODY, without_auth_list: [], without_conf_list: [] };
};

const versionInfo = (code: CodeState) => (request: ApiRequest) => {
  const { mp } = miniProgramCall(code, request, 'getversioninfo');
  if (request.raw.trim() === '') fail(44002);
  const exp = mp.trial && { exp_time: mp.trial.time, exp_version: mp.trial.userVersion, exp_desc: mp.trial.userDesc };
  const live = mp.live && { release_time: mp.live.time, release_version: mp.live.userVersion, release_desc: mp.live.userDesc };
  return { ...OK_BODY, ...(exp ? { exp_info: exp } : {}), ...(live ? { release_info: live } : {}) };
};

const submitAudit = (code: CodeState, audits: AuditQueue) => (request: ApiRequest) => {
  const { account, mp } = miniProgramCall(code, request, 'submit_audit');
  if (!mp.trial) return fail(85086, 'must commit before submit audit');
  const latest = latestAudit(mp);
  if (latest && (latest.status === 2 || latest.status === 4)) fail(85009, 'already has one auditing version');
  if (mp.scanUntil > request.state.clock()) fail(61039, 'privacy info is not ready, please try again later');
  if (code.quota.rest <= 0) fail(85085, 'submit audit reach limit, please try later');
  const items = request.body.item_list;
  if (items !== undefined && (!Array.isArray(items) || items.length < 1 || items.length > 5)) fail(85023, 'item size is not valid');
  code.quota.rest -= 1;
  const audit = { auditId: code.nextAuditId++, status: 2, version: mp.trial, submitTime: nowS(request.state), spedUp: false };
  mp.audits.push(audit);
  audits.submitted(account.appid, audit);
  return { ...OK_BODY, auditid: audit.auditId };
};

const auditFields = (audit: NonNullable<ReturnType<typeof latestAudit>>) => ({
  status: audit.status,
  ...(audit.reason ? { reason: audit.reason } : {}),
  ...(audit.screenshot ? { screenshot: audit.screenshot } : {}),
});

const auditStatus = (code: CodeState) => (request: ApiRequest) => {
  const { mp } = miniProgramCall(code, request, 'get_auditstatus');
  const id = request.body.auditid;
  const audit = typeof id === 'number' ? mp.audits.find((a) => a.auditId === id) : undefined;
  if (!audit) return fail(85012, 'invalid audit id');
  return { ...OK_BODY, ...auditFields(audit) };
};

const latestAuditStatus = (code: CodeState) => (request: ApiRequest) => {
  const { mp } = miniProgramCall(code, request, 'get_latest_auditstatus');
  const audit = latestAudit(mp);
  if (!audit) return fail(86001, 'not existed code');
  return {
    ...OK_BODY,
    auditid: audit.auditId,
    ...auditFields(audit),
    user_version: audit.version.userVersion,
    user_desc: audit.version.userDesc,
    submit_audit_time: audit.submitTime,
  };
};

const undoAudit = (code: CodeState, audits: AuditQueue) => (request: ApiRequest) => {
  const { mp } = miniProgramCall(code, request, 'undocodeaudit');
  const audit = latestAudit(mp);
  if (!audit || audit.status === 1) return fail(87012, 'status not allowed');
  if (mp.undoneToday >= 5) fail(87013, 'no quota to undo code');
  if (audit.status !== 2 && audit.status !== 4) fail(87012, 'status not allowed');
  mp.undoneToday += 1;
  audit.status = 3;
  audits.cancel(audit); // the quota it used is not given back
  return OK_BODY;
};

const speedup = (code: CodeState) => (request: ApiRequest) => {
  const { mp } = miniProgramCall(code, request, 'speedupaudit');
  const audit = mp.audits.find((a) => a.auditId === request.body.auditid);
  if (audit?.status !== 2) return fail(89402, 'the audit is not in the pending queue');
  if (audit.spedUp) fail(89404, 'already sped up');
  if (code.quota.speedupRest <= 0) fail(89405, 'speed up quota used up');
  audit.spedUp = true;
  code.quota.speedupRest -= 1;
  return OK_BODY;
};

const queryQuota = (code: CodeState) => (request: ApiRequest) => {
  miniProgramCall(code, request, 'queryquota');
  const q = code.quota;
  return { ...OK_BODY, rest: q.rest, limit: q.limit, speedup_rest: q.speedupRest, speedup_limit: q.speedupLimit };
};

const modifyDomain = (code: CodeState) => (request: ApiRequest) => {
  const { mp } = miniProgramCall(code, request, 'modify_domain');
  const action = request.body.action;
  if (!['get', 'set', 'add', 'delete'].includes(String(action))) fail(40097, 'invalid args');
  for (const list of DOMAIN_LISTS) {
    const given = request.body[list];
    if (action === 'get' || !Array.isArray(given)) continue;
    const entries = given.map(String);
    const current = mp.domains[list] ?? [];
    mp.domains[list] =
      action === 'set' ? entries : action === 'add' ? [...new Set([...current, ...entries])] : current.filter((d) => !entries.includes(d));
  }
  return { ...OK_BODY, ...mp.domains };
};

const setWebviewDomain = (code: CodeState) => (request: ApiRequest) => {
  const { mp } = miniProgramCall(code, request, 'setwebviewdomain');
  const { action, webviewdomain } = request.body;
  const entries = Array.isArray(webviewdomain) ? webviewdomain.map(String) : [];
  if (entries.some((d) => !d.startsWith('https://'))) fail(89021, 'the domain is not a business domain of the component');
  if (action === 'set') mp.webviewDomains = entries;
  else if (action === 'add' || action === undefined) mp.webviewDomains = [...new Set([...mp.webviewDomains, ...entries])];
  else if (action === 'delete') mp.webviewDomains = mp.webviewDomains.filter((d) => !entries.includes(d));
  return { ...OK_BODY, webviewdomain: mp.webviewDomains };
};

const setPrivacy = (code: CodeState) => (request: ApiRequest) => {
  const { mp } = miniProgramCall(code, request, 'setprivacysetting');
  const owner = request.body.owner_setting;
  if (typeof owner === 'string') return fail(47001, 'data format error');
  const o = (owner ?? {}) as Record<string, unknown>;
  const contact = ['contact_email', 'contact_phone', 'contact_qq', 'contact_weixin'].some((k) => typeof o[k] === 'string');
  if (typeof o.notice_method !== 'string' || !contact) fail(86069, 'owner_setting required field missing');
  mp.privacy = { ...request.body };
  return OK_BODY;
};

const getPrivacy = (code: CodeState) => (request: ApiRequest) => {
  const { mp } = miniProgramCall(code, request, 'getprivacysetting');
  const list = (mp.privacy?.setting_list ?? []) as { privacy_key: string; privacy_text: string }[];
  return { ...OK_BODY, code_exist: mp.trial ? 1 : 0, privacy_list: [], setting_list: list, update_time: nowS(request.state) };
};

/** Path → route for every code-management API. */
export const createCodeRoutes = (code: CodeState, audits: AuditQueue): [string, ApiRoute][] => [
  ['/wxa/gettemplatedraftlist', { name: 'gettemplatedraftlist', method: 'GET', handle: draftList(code) }],
  ['/wxa/addtotemplate', { name: 'addtotemplate', handle: addToTemplate(code) }],
  ['/wxa/gettemplatelist', { name: 'gettemplatelist', method: 'GET', handle: templateList(code) }],
  ['/wxa/deletetemplate', { name: 'deletetemplate', handle: deleteTemplate(code) }],
  ['/wxa/commit', { name: 'commit', handle: commit(code) }],
  ['/wxa/get_page', { name: 'get_page', method: 'GET', handle: getPage(code) }],
  ['/wxa/get_qrcode', { name: 'get_qrcode', method: 'GET', handle: getQrcode(code) }],
  ['/wxa/get_category', { name: 'get_category', method: 'GET', handle: getCategory(code) }],
  ['/wxa/security/get_code_privacy_info', { name: 'get_code_privacy_info', method: 'GET', handle: privacyInfo(code) }],
  ['/wxa/getversioninfo', { name: 'getversioninfo', handle: versionInfo(code) }],
  ['/wxa/submit_audit', { name: 'submit_audit', handle: submitAudit(code, audits) }],
  ['/wxa/get_auditstatus', { name: 'get_auditstatus', handle: auditStatus(code) }],
  ['/wxa/get_latest_auditstatus', { name: 'get_latest_auditstatus', method: 'GET', handle: latestAuditStatus(code) }],
  ['/wxa/undocodeaudit', { name: 'undocodeaudit', method: 'GET', handle: undoAudit(code, audits) }],
  ['/wxa/speedupaudit', { name: 'speedupaudit', handle: speedup(code) }],
  ['/wxa/queryquota', { name: 'queryquota', method: 'GET', handle: queryQuota(code) }],
  ['/wxa/modify_domain', { name: 'modify_domain', handle: modifyDomain(code) }],
  ['/wxa/setwebviewdomain', { name: 'setwebviewdomain', handle: setWebviewDomain(code) }],
  ['/cgi-bin/component/setprivacysetting', { name: 'setprivacysetting', handle: setPrivacy(code) }],
  ['/cgi-bin/component/getprivacysetting', { name: 'getprivacysetting', handle: getPrivacy(code) }],
  ...createReleaseRoutes(code),
];
