// The mini-program code-management APIs of the client (docs/fleet.md): the template library, called with the
// component token, and the per-mini-program code, audit, release and domain APIs, called with that mini program's
// authorizer token. Domain shapes are camelCase; the readers in code-management.ts build them from WeChat's bodies.

/** What the bound development mini program last uploaded from WeChat's developer tool (one per dev mini program). */
export interface TemplateDraft {
  readonly draftId: number;
  readonly userVersion: string;
  readonly userDesc: string;
  /** Epoch seconds. */
  readonly createTime: number;
  readonly sourceMiniprogramAppid?: string;
  readonly sourceMiniprogram?: string;
  readonly developer?: string;
}

/** A template of the library (at most 200): what `commit` deploys. */
export interface CodeTemplate {
  readonly templateId: number;
  readonly draftId?: number;
  readonly userVersion: string;
  readonly userDesc: string;
  readonly createTime: number;
  /** 0 normal, 1 standard (standard templates are being retired). */
  readonly templateType?: number;
  readonly sourceMiniprogramAppid?: string;
  readonly sourceMiniprogram?: string;
  readonly developer?: string;
  /** Standard templates only: 0 not submitted, 1 auditing, 2 rejected, 3 approved, 4 submitting, 5 submit failed. */
  readonly auditStatus?: number;
  readonly reason?: string;
}

export interface CommitInput {
  readonly templateId: number;
  /** The ext.json document; serialized to the string WeChat requires when given as an object. */
  readonly extJson: string | Readonly<Record<string, unknown>>;
  /** At most 64 characters. */
  readonly userVersion: string;
  readonly userDesc: string;
}

/** One page of the audit item list: a page address and the category it is audited under. */
export interface AuditItem {
  readonly address?: string;
  /** Space-separated, at most 10 tags of at most 20 characters. */
  readonly tag?: string;
  readonly firstClass: string;
  readonly secondClass: string;
  readonly thirdClass?: string;
  readonly firstId: number;
  readonly secondId: number;
  readonly thirdId?: number;
  /** At most 32 characters. */
  readonly title?: string;
}

/** Required on the first submit of social categories (85094). */
export interface UgcDeclare {
  /** 0 none, 1 profile, 2 image, 3 video, 4 text, 5 other. */
  readonly scene: readonly number[];
  readonly otherSceneDesc?: string;
  /** 1 WeChat content-security API, 2 another vendor, 3 manual review, 4 none. */
  readonly method: readonly number[];
  readonly hasAuditTeam: 0 | 1;
  readonly auditDesc?: string;
}

export interface SubmitAuditInput {
  /** 1 to 5 items; optional in practice. */
  readonly itemList?: readonly AuditItem[];
  readonly versionDesc?: string;
  /** Honoured only when the previous version was rejected. */
  readonly feedbackInfo?: string;
  /** `|`-joined media ids (at most 5); honoured only when the previous version was rejected. */
  readonly feedbackStuff?: string;
  readonly previewInfo?: { readonly videoIdList?: readonly string[]; readonly picIdList?: readonly string[] };
  readonly ugcDeclare?: UgcDeclare;
  /** True when the code uses no privacy API (answers 61040 otherwise). */
  readonly privacyApiNotUse?: boolean;
  readonly orderPath?: string;
}

/** 0 approved, 1 rejected, 2 auditing, 3 withdrawn, 4 delayed. */
export type AuditStatusCode = 0 | 1 | 2 | 3 | 4;

export interface AuditStatus {
  readonly status: AuditStatusCode;
  /** Why it was rejected or delayed (WeChat's text, `<br>`-separated). */
  readonly reason?: string;
  /** Media ids of the reviewer's screenshots. */
  readonly screenshots: readonly string[];
}

export interface LatestAuditStatus extends AuditStatus {
  readonly auditId: number;
  readonly userVersion?: string;
  readonly userDesc?: string;
  /** Epoch seconds. */
  readonly submitAuditTime?: number;
}

export interface VersionEntry {
  /** Epoch seconds. */
  readonly time: number;
  readonly version: string;
  readonly desc: string;
}

/** getversioninfo: the trial version (the last commit) and the live version; either may be absent. */
export interface VersionInfo {
  readonly trial?: VersionEntry;
  readonly live?: VersionEntry;
}

/** The component's monthly submit quota, shared by all its mini programs. */
export interface SubmitQuota {
  readonly rest: number;
  readonly limit: number;
  readonly speedupRest: number;
  readonly speedupLimit: number;
}

export interface AuditCategory {
  readonly firstClass: string;
  readonly secondClass: string;
  readonly thirdClass?: string;
  readonly firstId: number;
  readonly secondId: number;
  readonly thirdId?: number;
}

export interface GrayReleaseInput {
  /** 0 to 100, above the plan's current percentage. */
  readonly grayPercentage: number;
  readonly supportDebugerFirst?: boolean;
  readonly supportExperiencerFirst?: boolean;
}

export interface GrayReleasePlan {
  /** 0 init, 1 running, 2 paused, 3 finished, 4 deleted. */
  readonly status: number;
  readonly createTimestamp?: number;
  readonly grayPercentage: number;
  readonly supportDebugerFirst: boolean;
  readonly supportExperiencerFirst: boolean;
}

export interface HistoryVersion {
  readonly appVersion: number;
  readonly userVersion: string;
  readonly userDesc: string;
  readonly commitTime?: number;
}

/** The six server-domain lists, entries with their scheme (`https://`, `wss://`). */
export interface ServerDomains {
  readonly requestDomain: readonly string[];
  readonly wsRequestDomain: readonly string[];
  readonly uploadDomain: readonly string[];
  readonly downloadDomain: readonly string[];
  readonly udpDomain: readonly string[];
  readonly tcpDomain: readonly string[];
}

export type DomainAction = 'add' | 'delete' | 'set' | 'get';

export interface ModifyDomainResult {
  readonly domains: ServerDomains;
  /** What WeChat dropped (not registered on the component, or not on the mini program). */
  readonly invalid: Partial<ServerDomains>;
}

export interface PrivacyOwnerSetting {
  readonly contactEmail?: string;
  readonly contactPhone?: string;
  readonly contactQq?: string;
  readonly contactWeixin?: string;
  readonly extFileMediaId?: string;
  readonly noticeMethod: string;
  /** e.g. "30天". */
  readonly storeExpireTimestamp?: string;
}

export interface PrivacySettingInput {
  /** 1 the live guideline, 2 the one under development (default). */
  readonly privacyVer?: 1 | 2;
  readonly ownerSetting: PrivacyOwnerSetting;
  /** Required for version 2, refused for version 1. */
  readonly settingList?: readonly { readonly privacyKey: string; readonly privacyText: string }[];
}

export interface PrivacySetting {
  readonly codeExist: boolean;
  /** Privacy keys WeChat detected in the code. */
  readonly privacyList: readonly string[];
  readonly settingList: readonly { readonly privacyKey: string; readonly privacyText: string; readonly privacyLabel?: string }[];
  readonly updateTime?: number;
}

/** get_code_privacy_info: privacy APIs used without permission, and used without being declared. */
export interface CodePrivacyInfo {
  readonly withoutAuthList: readonly string[];
  readonly withoutConfList: readonly string[];
}

export interface TrialQrCode {
  readonly contentType: string;
  readonly image: Buffer;
}

/** The code-management half of the WeChat client. Tokens are passed in, never fetched here. */
export interface CodeManagementApi {
  getTemplateDraftList(componentAccessToken: string): Promise<TemplateDraft[]>;
  addToTemplate(componentAccessToken: string, input: { draftId: number; templateType?: 0 | 1 }): Promise<void>;
  getTemplateList(componentAccessToken: string, input?: { templateType?: 0 | 1 }): Promise<CodeTemplate[]>;
  deleteTemplate(componentAccessToken: string, input: { templateId: number }): Promise<void>;
  commit(authorizerAccessToken: string, input: CommitInput): Promise<void>;
  getPage(authorizerAccessToken: string): Promise<string[]>;
  getQrcode(authorizerAccessToken: string, input?: { path?: string }): Promise<TrialQrCode>;
  getCategory(authorizerAccessToken: string): Promise<AuditCategory[]>;
  getCodePrivacyInfo(authorizerAccessToken: string): Promise<CodePrivacyInfo>;
  getVersionInfo(authorizerAccessToken: string): Promise<VersionInfo>;
  submitAudit(authorizerAccessToken: string, input: SubmitAuditInput): Promise<{ auditId: number }>;
  getAuditStatus(authorizerAccessToken: string, input: { auditId: number }): Promise<AuditStatus>;
  getLatestAuditStatus(authorizerAccessToken: string): Promise<LatestAuditStatus>;
  undoCodeAudit(authorizerAccessToken: string): Promise<void>;
  speedupAudit(authorizerAccessToken: string, input: { auditId: number }): Promise<void>;
  queryQuota(authorizerAccessToken: string): Promise<SubmitQuota>;
  release(authorizerAccessToken: string): Promise<void>;
  revertCodeRelease(authorizerAccessToken: string, input?: { appVersion?: number }): Promise<void>;
  getHistoryVersion(authorizerAccessToken: string): Promise<HistoryVersion[]>;
  grayRelease(authorizerAccessToken: string, input: GrayReleaseInput): Promise<void>;
  getGrayReleasePlan(authorizerAccessToken: string): Promise<GrayReleasePlan>;
  revertGrayRelease(authorizerAccessToken: string): Promise<void>;
  modifyDomain(authorizerAccessToken: string, input: { action: DomainAction } & Partial<ServerDomains>): Promise<ModifyDomainResult>;
  setWebviewDomain(authorizerAccessToken: string, input: { action?: DomainAction; webviewDomain?: readonly string[] }): Promise<string[]>;
  setPrivacySetting(authorizerAccessToken: string, input: PrivacySettingInput): Promise<void>;
  getPrivacySetting(authorizerAccessToken: string, input?: { privacyVer?: 1 | 2 }): Promise<PrivacySetting>;
}
