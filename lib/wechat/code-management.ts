// The mini-program code-management endpoints of the WeChat client (docs/fleet.md): one method per endpoint,
// named after its path. Template-library calls take the component token, the rest the mini program's authorizer
// token; both go in the query as `access_token`. Reads are GET where WeChat insists (gettemplatelist answers
// 43001 to a POST); `release` and `getversioninfo` need the literal body `{}` (44002 without one).
// Calls that change WeChat's state are never repeated after an ambiguous failure: the rollout reads WeChat's
// state first (lib/fleet/recovery.ts).
import { protectSecret } from '../kernel/logger.ts';
import { reader, type Body } from './responses.ts';
import type { WeChatRequest, WeChatTransport } from './client.ts';
import type { CodeManagementApi, ServerDomains } from './code-management-types.ts';
import * as read from './code-management-readers.ts';

export const CODE_PATHS = {
  getTemplateDraftList: ['GET', '/wxa/gettemplatedraftlist'],
  addToTemplate: ['POST', '/wxa/addtotemplate'],
  getTemplateList: ['GET', '/wxa/gettemplatelist'],
  deleteTemplate: ['POST', '/wxa/deletetemplate'],
  commit: ['POST', '/wxa/commit'],
  getPage: ['GET', '/wxa/get_page'],
  getQrcode: ['GET', '/wxa/get_qrcode'],
  getCategory: ['GET', '/wxa/get_category'],
  getCodePrivacyInfo: ['GET', '/wxa/security/get_code_privacy_info'],
  getVersionInfo: ['POST', '/wxa/getversioninfo'],
  submitAudit: ['POST', '/wxa/submit_audit'],
  getAuditStatus: ['POST', '/wxa/get_auditstatus'],
  getLatestAuditStatus: ['GET', '/wxa/get_latest_auditstatus'],
  undoCodeAudit: ['GET', '/wxa/undocodeaudit'],
  speedupAudit: ['POST', '/wxa/speedupaudit'],
  queryQuota: ['GET', '/wxa/queryquota'],
  release: ['POST', '/wxa/release'],
  revertCodeRelease: ['GET', '/wxa/revertcoderelease'],
  getHistoryVersion: ['GET', '/wxa/revertcoderelease'],
  grayRelease: ['POST', '/wxa/grayrelease'],
  getGrayReleasePlan: ['GET', '/wxa/getgrayreleaseplan'],
  revertGrayRelease: ['GET', '/wxa/revertgrayrelease'],
  modifyDomain: ['POST', '/wxa/modify_domain'],
  setWebviewDomain: ['POST', '/wxa/setwebviewdomain'],
  setPrivacySetting: ['POST', '/cgi-bin/component/setprivacysetting'],
  getPrivacySetting: ['POST', '/cgi-bin/component/getprivacysetting'],
} as const satisfies Record<keyof CodeManagementApi, readonly ['GET' | 'POST', string]>;
export type CodeApiName = keyof typeof CODE_PATHS;

/** Calls that change what WeChat holds (a template, the trial or live version, an audit, a quota, domains). */
const CHANGES_STATE: ReadonlySet<CodeApiName> = new Set<CodeApiName>([
  'addToTemplate',
  'deleteTemplate',
  'commit',
  'submitAudit',
  'undoCodeAudit',
  'speedupAudit',
  'release',
  'revertCodeRelease',
  'grayRelease',
  'revertGrayRelease',
  'modifyDomain',
  'setWebviewDomain',
]);

/** The label errors and logs carry: the path without its leading slash and `cgi-bin/`, e.g. `wxa/commit`. */
export const codeApiLabel = (name: CodeApiName): string => CODE_PATHS[name][1].replace(/^\/(cgi-bin\/)?/, '');

const requestOf = (name: CodeApiName, token: string, extra: { query?: Record<string, string>; body?: Body } = {}): WeChatRequest => {
  protectSecret(token);
  const [method, path] = CODE_PATHS[name];
  return {
    api: codeApiLabel(name),
    path,
    method,
    query: { access_token: token, ...extra.query },
    ...(method === 'POST' ? { body: extra.body ?? {} } : {}),
    ambiguousRetry: !CHANGES_STATE.has(name),
  };
};

const compact = (value: Body): Body => Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));

const submitBody = (input: Parameters<CodeManagementApi['submitAudit']>[1]): Body =>
  compact({
    item_list: input.itemList?.map((i) =>
      compact({
        address: i.address,
        tag: i.tag,
        first_class: i.firstClass,
        second_class: i.secondClass,
        third_class: i.thirdClass,
        first_id: i.firstId,
        second_id: i.secondId,
        third_id: i.thirdId,
        title: i.title,
      }),
    ),
    version_desc: input.versionDesc,
    feedback_info: input.feedbackInfo,
    feedback_stuff: input.feedbackStuff,
    preview_info: input.previewInfo && compact({ video_id_list: input.previewInfo.videoIdList, pic_id_list: input.previewInfo.picIdList }),
    ugc_declare: input.ugcDeclare && {
      scene: input.ugcDeclare.scene,
      other_scene_desc: input.ugcDeclare.otherSceneDesc,
      method: input.ugcDeclare.method,
      has_audit_team: input.ugcDeclare.hasAuditTeam,
      audit_desc: input.ugcDeclare.auditDesc,
    },
    privacy_api_not_use: input.privacyApiNotUse,
    order_path: input.orderPath,
  });

const domainBody = (input: { action: string } & Partial<ServerDomains>): Body => {
  const lists = Object.entries(read.DOMAIN_FIELDS).map(([name, wire]) => [wire, input[name as keyof ServerDomains]]);
  return compact({ action: input.action, ...Object.fromEntries(input.action === 'get' ? [] : lists) });
};

const privacyBody = (input: Parameters<CodeManagementApi['setPrivacySetting']>[1]): Body => {
  const o = input.ownerSetting;
  return compact({
    privacy_ver: input.privacyVer,
    owner_setting: compact({
      contact_email: o.contactEmail,
      contact_phone: o.contactPhone,
      contact_qq: o.contactQq,
      contact_weixin: o.contactWeixin,
      ext_file_media_id: o.extFileMediaId,
      notice_method: o.noticeMethod,
      store_expire_timestamp: o.storeExpireTimestamp,
    }),
    setting_list: input.settingList?.map((s) => ({ privacy_key: s.privacyKey, privacy_text: s.privacyText })),
  });
};

/** Binds the code-management methods to the client's transport (one pooled connection set, one retry policy). */
export const buildCodeManagementApi = (transport: WeChatTransport): CodeManagementApi => {
  const call = async (name: CodeApiName, token: string, extra?: { query?: Record<string, string>; body?: Body }) =>
    transport.json(requestOf(name, token, extra));
  const label = codeApiLabel;
  return {
    /** @see https://developers.weixin.qq.com/doc/oplatform/openApi/OpenApiDoc/thirdparty-management/template-management/getTemplatedRaftList.html */
    getTemplateDraftList: async (token) => read.toTemplateDrafts(label('getTemplateDraftList'), await call('getTemplateDraftList', token)),
    addToTemplate: async (token, { draftId, templateType }) => {
      await call('addToTemplate', token, { body: compact({ draft_id: draftId, template_type: templateType }) });
    },
    getTemplateList: async (token, input = {}) => {
      const query: Record<string, string> = input.templateType === undefined ? {} : { template_type: String(input.templateType) };
      return read.toTemplates(label('getTemplateList'), await call('getTemplateList', token, { query }));
    },
    deleteTemplate: async (token, { templateId }) => {
      await call('deleteTemplate', token, { body: { template_id: templateId } });
    },
    /** ext_json is a string on the wire: an object is serialized here. @see https://developers.weixin.qq.com/doc/oplatform/openApi/OpenApiDoc/miniprogram-management/code-management/commit.html */
    commit: async (token, input) => {
      const extJson = typeof input.extJson === 'string' ? input.extJson : JSON.stringify(input.extJson);
      await call('commit', token, {
        body: { template_id: input.templateId, ext_json: extJson, user_version: input.userVersion, user_desc: input.userDesc },
      });
    },
    getPage: async (token) => read.toPages(label('getPage'), await call('getPage', token)),
    getQrcode: async (token, input = {}) => {
      const answer = await transport.bytes(requestOf('getQrcode', token, { query: input.path ? { path: input.path } : {} }));
      return { contentType: answer.contentType, image: answer.bytes };
    },
    getCategory: async (token) => read.toCategories(label('getCategory'), await call('getCategory', token)),
    getCodePrivacyInfo: async (token) => read.toCodePrivacyInfo(label('getCodePrivacyInfo'), await call('getCodePrivacyInfo', token)),
    getVersionInfo: async (token) => read.toVersionInfo(label('getVersionInfo'), await call('getVersionInfo', token, { body: {} })),
    /** @see https://developers.weixin.qq.com/doc/oplatform/openApi/OpenApiDoc/miniprogram-management/code-management/submitAudit.html */
    submitAudit: async (token, input) => {
      const api = label('submitAudit');
      const body = await call('submitAudit', token, { body: submitBody(input) });
      return { auditId: reader(api).number(body, 'auditid') };
    },
    getAuditStatus: async (token, { auditId }) =>
      read.toAuditStatus(label('getAuditStatus'), await call('getAuditStatus', token, { body: { auditid: auditId } })),
    getLatestAuditStatus: async (token) => read.toLatestAuditStatus(label('getLatestAuditStatus'), await call('getLatestAuditStatus', token)),
    undoCodeAudit: async (token) => {
      await call('undoCodeAudit', token);
    },
    speedupAudit: async (token, { auditId }) => {
      await call('speedupAudit', token, { body: { auditid: auditId } });
    },
    queryQuota: async (token) => read.toSubmitQuota(label('queryQuota'), await call('queryQuota', token)),
    release: async (token) => {
      await call('release', token, { body: {} });
    },
    revertCodeRelease: async (token, input = {}) => {
      await call('revertCodeRelease', token, { query: input.appVersion === undefined ? {} : { app_version: String(input.appVersion) } });
    },
    getHistoryVersion: async (token) =>
      read.toHistoryVersions(label('getHistoryVersion'), await call('getHistoryVersion', token, { query: { action: 'get_history_version' } })),
    grayRelease: async (token, input) => {
      const body = compact({
        gray_percentage: input.grayPercentage,
        support_debuger_first: input.supportDebugerFirst,
        support_experiencer_first: input.supportExperiencerFirst,
      });
      await call('grayRelease', token, { body });
    },
    getGrayReleasePlan: async (token) => read.toGrayReleasePlan(label('getGrayReleasePlan'), await call('getGrayReleasePlan', token)),
    revertGrayRelease: async (token) => {
      await call('revertGrayRelease', token);
    },
    modifyDomain: async (token, input) =>
      read.toModifyDomainResult(label('modifyDomain'), await call('modifyDomain', token, { body: domainBody(input) })),
    setWebviewDomain: async (token, input) => {
      const body = compact({ action: input.action, webviewdomain: input.webviewDomain });
      return read.toWebviewDomains(label('setWebviewDomain'), await call('setWebviewDomain', token, { body }));
    },
    setPrivacySetting: async (token, input) => {
      await call('setPrivacySetting', token, { body: privacyBody(input) });
    },
    getPrivacySetting: async (token, input = {}) =>
      read.toPrivacySetting(label('getPrivacySetting'), await call('getPrivacySetting', token, { body: { privacy_ver: input.privacyVer ?? 2 } })),
  };
};
