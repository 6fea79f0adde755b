// Test switches of the simulator's code management (docs/fleet.md): how audits end (per account or by default),
// the submit quota (run it out, give it back), developer-tool uploads, the privacy scan time, and a view of an
// account's code with its per-API call counts. Also served under /__sim/code/ (control.ts).
import { codeOf, codeView, type AuditPlan, type CodeState } from './code-state.ts';
import { nowS, type SimState } from './state.ts';

export interface CodeSwitches {
  /** How the next audits end: for one account, or (no appid) for every account without its own plan. */
  setAudit(plan: Partial<AuditPlan> & { authorizerAppid?: string }): void;
  /** Sets what queryquota reports and submit_audit consumes; `rest` 0 makes submissions fail with 85085. */
  setQuota(quota: { rest?: number; limit?: number; speedupRest?: number }): void;
  quota(): { rest: number; limit: number; speedupRest: number; speedupLimit: number };
  /** A developer-tool upload: a new draft; returns its id. */
  uploadDraft(input?: { userVersion?: string; userDesc?: string }): number;
  /** How long the privacy scan after each commit runs (61039 meanwhile). */
  setPrivacyScanMs(ms: number): void;
  account(appid: string): ReturnType<typeof codeView>;
  /** Where audit results are pushed for an account (default: the push URL's origin + /wechat/authorizers/{appid}/callback). */
  setMessageUrl(url: ((appid: string) => string | undefined) | undefined): void;
}

export const createCodeSwitches = (
  state: SimState,
  code: CodeState,
  messageUrl: { current: (appid: string) => string | undefined },
): CodeSwitches => ({
  setAudit: ({ authorizerAppid, ...plan }) => {
    const base = (authorizerAppid ? code.auditFor.get(authorizerAppid) : undefined) ?? code.auditDefault;
    const merged: AuditPlan = { ...base, ...plan };
    if (authorizerAppid) code.auditFor.set(authorizerAppid, merged);
    else code.auditDefault = merged;
  },
  setQuota: (quota) => {
    if (quota.limit !== undefined) code.quota.limit = quota.limit;
    if (quota.rest !== undefined) code.quota.rest = quota.rest;
    if (quota.speedupRest !== undefined) code.quota.speedupRest = quota.speedupRest;
  },
  quota: () => ({ ...code.quota }),
  uploadDraft: (input = {}) => {
    const draftId = code.nextDraftId++;
    code.drafts.set(draftId, {
      draftId,
      userVersion: input.userVersion ?? `1.0.${draftId}`,
      userDesc: input.userDesc ?? 'upload',
      createTime: nowS(state),
    });
    return draftId;
  },
  setPrivacyScanMs: (ms) => {
    code.privacyScanMs = ms;
  },
  account: (appid) => codeView(state.accounts.has(appid) ? codeOf(code, appid) : undefined),
  setMessageUrl: (url) => {
    if (url) messageUrl.current = url;
  },
});
