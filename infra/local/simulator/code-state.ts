// The simulator's mini-program code management (docs/fleet.md): the component's template library, each mini
// program's trial version, audits and live version, the component's monthly submit quota, and how the audit
// queue decides (per account or by default). In memory, like the rest of the simulator.

export type AuditDecision = 'pass' | 'fail' | 'delay';

export interface AuditPlan {
  readonly outcome: AuditDecision;
  /** Time from submission to the result push (ms). */
  readonly delayMs: number;
  readonly reason?: string;
  readonly screenshots?: readonly string[];
  /** After a delay push, the final outcome (default pass), another delayMs later. */
  readonly afterDelay?: 'pass' | 'fail';
}

export interface Draft {
  readonly draftId: number;
  readonly userVersion: string;
  readonly userDesc: string;
  readonly createTime: number;
}

export interface Template extends Draft {
  readonly templateId: number;
  readonly templateType: number;
}

export interface TrialVersion {
  readonly templateId: number;
  readonly userVersion: string;
  readonly userDesc: string;
  readonly extJson: string;
  /** Epoch seconds. */
  readonly time: number;
}

export interface Audit {
  readonly auditId: number;
  /** 0 approved, 1 rejected, 2 auditing, 3 withdrawn, 4 delayed. */
  status: number;
  reason?: string;
  screenshot?: string;
  readonly version: TrialVersion;
  readonly submitTime: number;
  spedUp: boolean;
  timer?: NodeJS.Timeout;
}

export interface LiveVersion {
  readonly appVersion: number;
  readonly userVersion: string;
  readonly userDesc: string;
  readonly time: number;
  readonly auditId: number;
}

export interface GrayPlan {
  status: number;
  percentage: number;
  readonly createTimestamp: number;
  readonly supportDebugerFirst: boolean;
  readonly supportExperiencerFirst: boolean;
  readonly auditId: number;
}

export interface MiniProgramCode {
  trial?: TrialVersion;
  /** Epoch ms until which the privacy scan after the last commit runs (61039). */
  scanUntil: number;
  readonly audits: Audit[];
  live?: LiveVersion;
  /** Released and reverted versions, newest last (WeChat keeps five). */
  readonly history: LiveVersion[];
  justReverted: boolean;
  gray?: GrayPlan;
  undoneToday: number;
  domains: Record<string, string[]>;
  webviewDomains: string[];
  privacy?: Record<string, unknown>;
  /** Calls per API for this account, whatever WeChat answered. */
  readonly calls: Record<string, number>;
}

export interface Quota {
  rest: number;
  limit: number;
  speedupRest: number;
  speedupLimit: number;
}

export interface CodeState {
  readonly drafts: Map<number, Draft>;
  readonly templates: Map<number, Template>;
  nextDraftId: number;
  nextTemplateId: number;
  nextAuditId: number;
  nextAppVersion: number;
  readonly quota: Quota;
  readonly accounts: Map<string, MiniProgramCode>;
  auditDefault: AuditPlan;
  readonly auditFor: Map<string, AuditPlan>;
  privacyScanMs: number;
}

export const DOMAIN_LISTS = ['requestdomain', 'wsrequestdomain', 'uploaddomain', 'downloaddomain', 'udpdomain', 'tcpdomain'] as const;

/** A library with one draft (id 0) and one template (id 1) made from it, so a rollout can start at once. */
export const createCodeState = (nowS: number): CodeState => {
  const draft: Draft = { draftId: 0, userVersion: '1.0.0', userDesc: 'simulated upload from the developer tool', createTime: nowS };
  return {
    drafts: new Map([[0, draft]]),
    templates: new Map([[1, { ...draft, templateId: 1, templateType: 0 }]]),
    nextDraftId: 1,
    nextTemplateId: 2,
    nextAuditId: 420_000_001,
    nextAppVersion: 1,
    quota: { rest: 1000, limit: 1000, speedupRest: 10, speedupLimit: 10 },
    accounts: new Map(),
    auditDefault: { outcome: 'pass', delayMs: 200 },
    auditFor: new Map(),
    privacyScanMs: 0,
  };
};

export const codeOf = (state: CodeState, appid: string): MiniProgramCode => {
  let code = state.accounts.get(appid);
  if (!code) {
    code = {
      scanUntil: 0,
      audits: [],
      history: [],
      justReverted: false,
      undoneToday: 0,
      domains: Object.fromEntries(DOMAIN_LISTS.map((l) => [l, []])),
      webviewDomains: [],
      calls: {},
    };
    state.accounts.set(appid, code);
  }
  return code;
};

export const latestAudit = (code: MiniProgramCode): Audit | undefined => code.audits.at(-1);

/** What a test or the control API sees of one account's code (no timers). */
export const codeView = (code: MiniProgramCode | undefined) => ({
  trial: code?.trial && { ...code.trial },
  live: code?.live && { ...code.live },
  audits: (code?.audits ?? []).map(({ timer: _t, ...audit }) => audit),
  gray: code?.gray && { ...code.gray },
  history: [...(code?.history ?? [])],
  domains: code?.domains && { ...code.domains },
  webviewDomains: [...(code?.webviewDomains ?? [])],
  privacy: code?.privacy,
  calls: { ...(code?.calls ?? {}) },
});
