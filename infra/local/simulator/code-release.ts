// Release, rollback and phased release in the simulator (docs/fleet.md), with WeChat's preconditions: release the
// last approved audit once (85052 again), revert only to a previous live version and never twice in a row, gray
// releases only above the current percentage and only with a live version to share traffic with.
import type { ApiRequest, ApiRoute } from './api.ts';
import { latestAudit, type CodeState, type MiniProgramCode } from './code-state.ts';
import { miniProgramCall } from './code-api.ts';
import { fail, nowS, OK_BODY } from './state.ts';

const HISTORY_KEPT = 5;

/** The approved audit a release or gray release would publish: 85019 without one, 85020 when the latest is not approved. */
const approved = (mp: MiniProgramCode) => {
  const audit = latestAudit(mp);
  if (!audit) return fail(85019, 'no version under auditing');
  if (audit.status !== 0) return fail(85020, 'status not allowed');
  return audit;
};

const goLive = (code: CodeState, mp: MiniProgramCode, request: ApiRequest, audit: ReturnType<typeof approved>) => {
  mp.live = {
    appVersion: code.nextAppVersion++,
    userVersion: audit.version.userVersion,
    userDesc: audit.version.userDesc,
    time: nowS(request.state),
    auditId: audit.auditId,
  };
  mp.history.push(mp.live);
  if (mp.history.length > HISTORY_KEPT) mp.history.shift();
  mp.justReverted = false;
};

const release = (code: CodeState) => (request: ApiRequest) => {
  const { mp } = miniProgramCall(code, request, 'release');
  if (request.raw.trim() === '') fail(44002);
  const audit = approved(mp);
  if (mp.live?.auditId === audit.auditId) fail(85052, 'app is already released');
  goLive(code, mp, request, audit);
  if (mp.gray) mp.gray.status = 3;
  return OK_BODY;
};

const revert = (code: CodeState) => (request: ApiRequest) => {
  const { mp } = miniProgramCall(code, request, request.query.get('action') === 'get_history_version' ? 'get_history_version' : 'revertcoderelease');
  if (request.query.get('action') === 'get_history_version') {
    const list = mp.justReverted ? [] : mp.history.slice(0, -1).reverse();
    return {
      ...OK_BODY,
      version_list: list.map((v) => ({ app_version: v.appVersion, user_version: v.userVersion, user_desc: v.userDesc, commit_time: v.time })),
    };
  }
  if (mp.gray?.status === 1) fail(87011, 'gray release is running, cannot revert');
  const wanted = request.query.get('app_version');
  const previous = wanted ? mp.history.find((v) => String(v.appVersion) === wanted && v !== mp.live) : mp.history.at(-2);
  if (mp.justReverted || !previous) return fail(87012, 'cannot revert: no previous version or already reverted');
  mp.live = previous;
  mp.justReverted = true;
  return OK_BODY;
};

const grayRelease = (code: CodeState) => (request: ApiRequest) => {
  const { mp } = miniProgramCall(code, request, 'grayrelease');
  const percentage = request.body.gray_percentage;
  if (typeof percentage !== 'number' || !Number.isInteger(percentage) || percentage < 0 || percentage > 100) fail(85081, 'invalid gray percentage');
  const audit = latestAudit(mp);
  if (audit?.status !== 0) fail(85080, 'audit not passed');
  if (!mp.live) fail(85079, 'no live version to release gradually');
  const running = mp.gray && mp.gray.status === 1 && mp.gray.auditId === audit?.auditId ? mp.gray : undefined;
  if (running && (percentage as number) <= running.percentage) fail(85082, 'the percentage must exceed the current one');
  if (running) running.percentage = percentage as number;
  else {
    mp.gray = {
      status: 1,
      percentage: percentage as number,
      createTimestamp: nowS(request.state),
      supportDebugerFirst: request.body.support_debuger_first === true,
      supportExperiencerFirst: request.body.support_experiencer_first === true,
      auditId: audit?.auditId ?? 0,
    };
  }
  if (percentage === 100 && mp.gray && audit) {
    mp.gray.status = 3;
    goLive(code, mp, request, audit);
  }
  return OK_BODY;
};

const grayPlan = (code: CodeState) => (request: ApiRequest) => {
  const { mp } = miniProgramCall(code, request, 'getgrayreleaseplan');
  const g = mp.gray;
  return {
    ...OK_BODY,
    gray_release_plan: {
      status: g?.status ?? 0,
      create_timestamp: g?.createTimestamp ?? 0,
      gray_percentage: g?.percentage ?? 0,
      support_experiencer_first: g?.supportExperiencerFirst ?? false,
      support_debuger_first: g?.supportDebugerFirst ?? false,
    },
  };
};

const revertGray = (code: CodeState) => (request: ApiRequest) => {
  const { mp } = miniProgramCall(code, request, 'revertgrayrelease');
  if (mp.gray?.status === 1) mp.gray.status = 4;
  return OK_BODY;
};

export const createReleaseRoutes = (code: CodeState): [string, ApiRoute][] => [
  ['/wxa/release', { name: 'release', handle: release(code) }],
  ['/wxa/revertcoderelease', { name: 'revertcoderelease', method: 'GET', handle: revert(code) }],
  ['/wxa/grayrelease', { name: 'grayrelease', handle: grayRelease(code) }],
  ['/wxa/getgrayreleaseplan', { name: 'getgrayreleaseplan', method: 'GET', handle: grayPlan(code) }],
  ['/wxa/revertgrayrelease', { name: 'revertgrayrelease', method: 'GET', handle: revertGray(code) }],
];
