// The simulator's audit queue (docs/fleet.md): each submission is decided after the account's (or the default)
// delay — pass, fail with a reason and screenshots, or delay first — and the result is pushed, encrypted like every
// other push, to that account's message URL as weapp_audit_success / _fail / _delay. Like WeChat, a push nobody
// answers with 200 is tried again a few times.
import { setTimeout as delay } from 'node:timers/promises';
import type { Pusher } from './pusher.ts';
import { latestAudit, type Audit, type AuditDecision, type AuditPlan, type CodeState } from './code-state.ts';
import { nowS, type SimState } from './state.ts';

/** The system sender of audit pushes (the doc sample's FromUserName). */
export const AUDIT_SENDER = 'od1P50M-fNQI5Gcq-trm4a7apsU8';
const PUSH_ATTEMPTS = 3;
const PUSH_RETRY_MS = 300;

const cdata = (v: string) => `<![CDATA[${v}]]>`;

export const auditPushXml = (input: { toUser: string; createTime: number; event: string; timeField: string; reason?: string; screenshot?: string }) =>
  `<xml><ToUserName>${cdata(input.toUser)}</ToUserName><FromUserName>${cdata(AUDIT_SENDER)}</FromUserName>` +
  `<CreateTime>${input.createTime}</CreateTime><MsgType>${cdata('event')}</MsgType><Event>${cdata(input.event)}</Event>` +
  (input.reason === undefined ? '' : `<Reason>${cdata(input.reason)}</Reason>`) +
  `<${input.timeField}>${input.createTime}</${input.timeField}>` +
  (input.screenshot ? `<ScreenShot>${input.screenshot}</ScreenShot>` : '') +
  '</xml>';

export interface AuditQueueParts {
  readonly state: SimState;
  readonly code: CodeState;
  readonly pusher: Pusher;
  /** The account's message URL (消息与事件接收URL), or undefined when no platform is there to push to. */
  readonly messageUrl: (appid: string) => string | undefined;
  readonly log: (line: string) => void;
  readonly track: <T>(work: Promise<T>) => Promise<T>;
}

export interface AuditQueue {
  /** Queues the decision of a new submission. */
  submitted(appid: string, audit: Audit): void;
  /** Stops every pending decision (simulator stop, or an undone audit). */
  cancel(audit: Audit): void;
  stop(): void;
}

const DEFAULT_REASON = '1:小程序名称与简介不符合规范:<br>(1):简介未体现小程序功能和内容<br>';

export const createAuditQueue = (parts: AuditQueueParts): AuditQueue => {
  const timers = new Set<NodeJS.Timeout>();
  const planOf = (appid: string): AuditPlan => parts.code.auditFor.get(appid) ?? parts.code.auditDefault;

  const push = async (appid: string, xml: string, label: string) => {
    const url = parts.messageUrl(appid);
    const account = parts.state.accounts.get(appid);
    if (!url || !account) return parts.log(`push ${label} skipped (no message URL)`);
    const delivery = {
      label,
      timestamp: nowS(parts.state),
      outer: { name: 'ToUserName' as const, value: account.userName },
      query: { openid: AUDIT_SENDER },
    };
    for (let attempt = 1; attempt <= PUSH_ATTEMPTS; attempt += 1) {
      const result = await parts.pusher.deliver(url, xml, delivery);
      if (result.status === 200) return;
      await delay(PUSH_RETRY_MS);
    }
  };

  const decide = (appid: string, audit: Audit, outcome: AuditDecision, plan: AuditPlan) => {
    const account = parts.state.accounts.get(appid);
    const code = parts.code.accounts.get(appid);
    // An audit undone, superseded or already decided meanwhile is not decided again.
    if (!account || !code || latestAudit(code) !== audit || (audit.status !== 2 && audit.status !== 4)) return;
    const createTime = nowS(parts.state);
    const base = { toUser: account.userName, createTime };
    if (outcome === 'pass') {
      audit.status = 0;
      return void parts.track(push(appid, auditPushXml({ ...base, event: 'weapp_audit_success', timeField: 'SuccTime' }), 'weapp_audit_success'));
    }
    if (outcome === 'fail') {
      audit.status = 1;
      audit.reason = plan.reason ?? DEFAULT_REASON;
      audit.screenshot = (plan.screenshots ?? ['sim-shot-1']).join('|');
      const xml = auditPushXml({ ...base, event: 'weapp_audit_fail', timeField: 'FailTime', reason: audit.reason, screenshot: audit.screenshot });
      return void parts.track(push(appid, xml, 'weapp_audit_fail'));
    }
    audit.status = 4;
    audit.reason = plan.reason ?? '为了更好的服务小程序，您的服务商正在进行提审系统的优化，可能会导致审核时效的增长，请耐心等待';
    void parts.track(
      push(appid, auditPushXml({ ...base, event: 'weapp_audit_delay', timeField: 'DelayTime', reason: audit.reason }), 'weapp_audit_delay'),
    );
    schedule(appid, audit, plan.afterDelay ?? 'pass', plan);
  };

  const schedule = (appid: string, audit: Audit, outcome: AuditDecision, plan: AuditPlan) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      decide(appid, audit, outcome, plan);
    }, plan.delayMs);
    timer.unref();
    timers.add(timer);
    audit.timer = timer;
  };

  return {
    submitted: (appid, audit) => {
      const plan = planOf(appid);
      schedule(appid, audit, plan.outcome, plan);
    },
    cancel: (audit) => {
      if (audit.timer) {
        clearTimeout(audit.timer);
        timers.delete(audit.timer);
      }
    },
    stop: () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
};
