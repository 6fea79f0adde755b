// Validating readers for the code-management APIs (docs/fleet.md): WeChat's snake_case bodies to the camelCase
// shapes of code-management-types.ts. A required field that is missing or mistyped is a WeChatProtocolError
// naming the API and the field.
import { isBody, reader, type Body } from './responses.ts';
import type {
  AuditCategory,
  AuditStatus,
  AuditStatusCode,
  CodePrivacyInfo,
  CodeTemplate,
  GrayReleasePlan,
  HistoryVersion,
  LatestAuditStatus,
  ModifyDomainResult,
  PrivacySetting,
  ServerDomains,
  SubmitQuota,
  TemplateDraft,
  VersionEntry,
  VersionInfo,
} from './code-management-types.ts';

const compact = <T extends object>(value: T): T => Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;

const items = (api: string, body: Body, key: string): Body[] =>
  reader(api)
    .array(body, key)
    .map((item, i) => (isBody(item) ? item : reader(api).object({}, `${key}[${i}]`)));

const strings = (api: string, body: Body, key: string): string[] =>
  reader(api)
    .array(body, key)
    .map((item, i) => (typeof item === 'string' ? item : reader(api).string({}, `${key}[${i}]`)));

export const toTemplateDrafts = (api: string, body: Body): TemplateDraft[] => {
  const r = reader(api);
  return items(api, body, 'draft_list').map((d, i) =>
    compact({
      draftId: r.number(d, 'draft_id', `draft_list[${i}].draft_id`),
      userVersion: r.optString(d, 'user_version') ?? '',
      userDesc: r.optString(d, 'user_desc') ?? '',
      createTime: r.optNumber(d, 'create_time') ?? 0,
      sourceMiniprogramAppid: r.optString(d, 'source_miniprogram_appid'),
      sourceMiniprogram: r.optString(d, 'source_miniprogram'),
      developer: r.optString(d, 'developer'),
    }),
  );
};

export const toTemplates = (api: string, body: Body): CodeTemplate[] => {
  const r = reader(api);
  return items(api, body, 'template_list').map((t, i) =>
    compact({
      templateId: r.number(t, 'template_id', `template_list[${i}].template_id`),
      draftId: r.optNumber(t, 'draft_id'),
      userVersion: r.optString(t, 'user_version') ?? '',
      userDesc: r.optString(t, 'user_desc') ?? '',
      createTime: r.optNumber(t, 'create_time') ?? 0,
      templateType: r.optNumber(t, 'template_type'),
      sourceMiniprogramAppid: r.optString(t, 'source_miniprogram_appid'),
      sourceMiniprogram: r.optString(t, 'source_miniprogram'),
      developer: r.optString(t, 'developer'),
      auditStatus: r.optNumber(t, 'audit_status'),
      reason: r.optString(t, 'reason'),
    }),
  );
};

const STATUSES: readonly AuditStatusCode[] = [0, 1, 2, 3, 4];

const auditStatusOf = (api: string, body: Body): AuditStatus => {
  const r = reader(api);
  const status = r.number(body, 'status');
  const code = STATUSES.find((s) => s === status) ?? r.string({}, 'status', 'status (0..4)');
  // The doc sample of get_latest_auditstatus spells ScreenShot; the answers spell screenshot.
  const shots = r.optString(body, 'screenshot') ?? r.optString(body, 'ScreenShot');
  return compact({
    status: code as AuditStatusCode,
    reason: r.optString(body, 'reason'),
    screenshots: shots ? shots.split('|').filter(Boolean) : [],
  });
};

export const toAuditStatus = (api: string, body: Body): AuditStatus => auditStatusOf(api, body);

export const toLatestAuditStatus = (api: string, body: Body): LatestAuditStatus => {
  const r = reader(api);
  return compact({
    ...auditStatusOf(api, body),
    auditId: r.number(body, 'auditid'),
    userVersion: r.optString(body, 'user_version'),
    userDesc: r.optString(body, 'user_desc'),
    submitAuditTime: r.optNumber(body, 'submit_audit_time'),
  });
};

const versionEntry = (api: string, body: Body, key: string, prefix: 'exp' | 'release'): VersionEntry | undefined => {
  const r = reader(api);
  const info = r.optObject(body, key);
  const version = info ? r.optString(info, `${prefix}_version`) : undefined;
  if (!info || version === undefined) return undefined;
  return { time: r.optNumber(info, `${prefix}_time`) ?? 0, version, desc: r.optString(info, `${prefix}_desc`) ?? '' };
};

/** Either object may be absent and `release_version` may be "" (never released): both read as no entry. */
export const toVersionInfo = (api: string, body: Body): VersionInfo =>
  compact({ trial: versionEntry(api, body, 'exp_info', 'exp'), live: versionEntry(api, body, 'release_info', 'release') });

export const toSubmitQuota = (api: string, body: Body): SubmitQuota => {
  const r = reader(api);
  return {
    rest: r.number(body, 'rest'),
    limit: r.number(body, 'limit'),
    speedupRest: r.optNumber(body, 'speedup_rest') ?? 0,
    speedupLimit: r.optNumber(body, 'speedup_limit') ?? 0,
  };
};

export const toCategories = (api: string, body: Body): AuditCategory[] => {
  const r = reader(api);
  return items(api, body, 'category_list').map((c, i) =>
    compact({
      firstClass: r.string(c, 'first_class', `category_list[${i}].first_class`),
      secondClass: r.string(c, 'second_class', `category_list[${i}].second_class`),
      thirdClass: r.optString(c, 'third_class'),
      firstId: r.number(c, 'first_id', `category_list[${i}].first_id`),
      secondId: r.number(c, 'second_id', `category_list[${i}].second_id`),
      thirdId: r.optNumber(c, 'third_id'),
    }),
  );
};

export const toPages = (api: string, body: Body): string[] => strings(api, body, 'page_list');

export const toGrayReleasePlan = (api: string, body: Body): GrayReleasePlan => {
  const r = reader(api);
  const plan = r.object(body, 'gray_release_plan');
  return compact({
    status: r.number(plan, 'status', 'gray_release_plan.status'),
    createTimestamp: r.optNumber(plan, 'create_timestamp'),
    grayPercentage: r.optNumber(plan, 'gray_percentage') ?? 0,
    supportDebugerFirst: plan.support_debuger_first === true,
    supportExperiencerFirst: plan.support_experiencer_first === true,
  });
};

export const toHistoryVersions = (api: string, body: Body): HistoryVersion[] => {
  const r = reader(api);
  return items(api, body, 'version_list').map((v, i) =>
    compact({
      appVersion: r.number(v, 'app_version', `version_list[${i}].app_version`),
      userVersion: r.optString(v, 'user_version') ?? '',
      userDesc: r.optString(v, 'user_desc') ?? '',
      commitTime: r.optNumber(v, 'commit_time'),
    }),
  );
};

/** The wire names of the six server-domain lists. */
export const DOMAIN_FIELDS: Readonly<Record<keyof ServerDomains, string>> = {
  requestDomain: 'requestdomain',
  wsRequestDomain: 'wsrequestdomain',
  uploadDomain: 'uploaddomain',
  downloadDomain: 'downloaddomain',
  udpDomain: 'udpdomain',
  tcpDomain: 'tcpdomain',
};

export const toModifyDomainResult = (api: string, body: Body): ModifyDomainResult => {
  const entries = Object.entries(DOMAIN_FIELDS) as [keyof ServerDomains, string][];
  const domains = Object.fromEntries(entries.map(([name, wire]) => [name, strings(api, body, wire)])) as unknown as ServerDomains;
  const invalid = Object.fromEntries(
    entries.flatMap(([name, wire]) => (Array.isArray(body[`invalid_${wire}`]) ? [[name, strings(api, body, `invalid_${wire}`)]] : [])),
  );
  return { domains, invalid };
};

export const toWebviewDomains = (api: string, body: Body): string[] => strings(api, body, 'webviewdomain');

export const toPrivacySetting = (api: string, body: Body): PrivacySetting => {
  const r = reader(api);
  return compact({
    codeExist: r.optNumber(body, 'code_exist') === 1,
    privacyList: strings(api, body, 'privacy_list'),
    settingList: items(api, body, 'setting_list').map((s, i) =>
      compact({
        privacyKey: r.string(s, 'privacy_key', `setting_list[${i}].privacy_key`),
        privacyText: r.optString(s, 'privacy_text') ?? '',
        privacyLabel: r.optString(s, 'privacy_label'),
      }),
    ),
    updateTime: r.optNumber(body, 'update_time'),
  });
};

export const toCodePrivacyInfo = (api: string, body: Body): CodePrivacyInfo => ({
  withoutAuthList: strings(api, body, 'without_auth_list'),
  withoutConfList: strings(api, body, 'without_conf_list'),
});
