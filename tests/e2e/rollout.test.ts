// A rollout end to end (docs/fleet.md): the simulator's mini programs authorize through WeChat's push, the
// `rollout` action plans, the table's stream drives the fleet function (commit, submit), the simulator's audit
// queue pushes encrypted results to the real message function, the stream takes them to the authorized function
// and back to the fleet function (release). The sweep runs on a clock the test moves.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RolloutStatus } from '../../lib/fleet/status.ts';
import { submitQuotaKey } from '../../lib/store/keys.ts';
import type { WeChatClient } from '../../lib/wechat/client.ts';
import { startFleetPlatform, type FleetPlatform } from '../helpers/fleet-platform.ts';

let p: FleetPlatform;
let appids: string[];
let armedAfterSubmit = false;

const status = async (rolloutId: string) => (await p.action('rolloutStatus', { rolloutId })) as unknown as RolloutStatus;
const calls = (appid: string) => p.sim.code.account(appid).calls;
const counts = (api: string) => appids.map((a) => calls(a)[api] ?? 0);

before(async () => {
  // After a submission lands, the test can make the next rollout write fail: the function "dies" right there.
  const wrap = (client: WeChatClient): WeChatClient => ({
    ...client,
    submitAudit: async (token, input) => {
      const result = await client.submitAudit(token, input);
      if (armedAfterSubmit) {
        armedAfterSubmit = false;
        // The write recording the submission: the account item and its event (no current-rollout pointer in it).
        const recording = (pks: readonly string[]) => pks.some((pk) => pk.startsWith('ROLLOUT#')) && !pks.some((pk) => pk.startsWith('AUTHORIZER#'));
        p.ddb.inject({ match: (c) => c.command === 'TransactWriteItemsCommand' && recording(c.pks) });
      }
      return result;
    },
  });
  p = await startFleetPlatform({ wrapWeChat: wrap });
  appids = await p.authorizeMiniPrograms(3);
});
after(async () => p?.stop());

describe('rollout to three simulated mini programs', () => {
  it('ends with two released and one audit_failed with WeChat reason, after one commit and one submit each', async () => {
    // Prepare
    const [, , rejected] = appids as [string, string, string];
    p.sim.code.setAudit({
      authorizerAppid: rejected,
      outcome: 'fail',
      reason: '1:小程序简介不符合规范:<br>(1):简介未体现小程序功能<br>',
      screenshots: ['m1', 'm2'],
    });
    // Act
    const { rolloutId } = (await p.action('rollout', { templateId: '1', userVersion: '1.0.0', userDesc: 'demo', all: 'true' })) as {
      rolloutId: string;
    };
    const done = await p.until(
      () => status(rolloutId),
      (s) => s.stages.released === 2 && s.stages.audit_failed === 1,
    );
    const sweep = await p.sweep();
    const final = await status(rolloutId);
    // Assess
    assert.equal(done.accounts, 3);
    assert.deepEqual(done.failures, [
      { authorizerAppid: rejected, stage: 'audit_failed', reason: '1:小程序简介不符合规范:\n(1):简介未体现小程序功能', screenshots: ['m1', 'm2'] },
    ]);
    assert.deepEqual(counts('commit'), [1, 1, 1]);
    assert.deepEqual(counts('submit_audit'), [1, 1, 1]);
    assert.deepEqual(counts('release'), [1, 1, 0]);
    for (const appid of appids.slice(0, 2)) assert.equal(p.sim.code.account(appid).live?.userVersion, '1.0.0');
    const ext = JSON.parse(p.sim.code.account(appids[0]!).trial!.extJson) as { extAppid: string };
    assert.equal(ext.extAppid, appids[0]);
    assert.deepEqual(sweep.completed, [rolloutId]);
    assert.equal(final.status, 'completed');
    const events = await p.events();
    const of = (type: string) => events.filter((e) => e.detailType === type);
    assert.equal(of('Mini Program Audit Succeeded').length, 2);
    assert.deepEqual(
      of('Mini Program Audit Failed').map((e) => [e.detail.authorizerAppid, e.detail.rolloutId, e.detail.screenshots]),
      [[rejected, rolloutId, ['m1', 'm2']]],
    );
    const stagesOf = (appid: string) =>
      of('Rollout Account Updated')
        .filter((e) => e.detail.authorizerAppid === appid)
        .map((e) => e.detail.stage);
    assert.deepEqual(stagesOf(appids[0]!), ['committed', 'submitted', 'audit_succeeded', 'released']);
    assert.deepEqual(stagesOf(rejected), ['committed', 'submitted', 'audit_failed']);
    assert.deepEqual(
      of('Rollout Completed').map((e) => [e.detail.rolloutId, e.detail.stages]),
      [[rolloutId, { released: 2, audit_failed: 1 }]],
    );
  });

  it('resumes after the function died between commit and submit, and after submit, without a second commit or submission', async () => {
    // Prepare
    p.sim.code.setAudit({ authorizerAppid: appids[2]!, outcome: 'pass' });
    p.advance(2); // audit pushes carry only their second: keep them apart from the previous rollout's
    const before = { commit: counts('commit'), submit: counts('submit_audit'), release: counts('release') };
    // The first quota reservation after a commit fails (died before recording the commit), and the write after the
    // first landed submission fails (died before recording it).
    p.ddb.inject({ match: (c) => c.command === 'UpdateItemCommand' && c.pks.includes(submitQuotaKey(p.deps.config.componentAppId).pk) });
    armedAfterSubmit = true;
    // Act
    const { rolloutId } = (await p.action('rollout', { templateId: 1, userVersion: '1.0.1', userDesc: 'fix', authorizers: appids })) as {
      rolloutId: string;
    };
    const stuck = await p.until(
      () => status(rolloutId),
      (s) => s.stages.released === 1 && s.stages.committing + s.stages.submitting === 2,
    );
    p.advance(130);
    const sweep = await p.sweep();
    const done = await p.until(
      () => status(rolloutId),
      (s) => s.stages.released === 3,
    );
    // Assess
    assert.deepEqual([stuck.stages.committing, stuck.stages.submitting], [1, 1]);
    assert.equal(sweep.woken, 2);
    assert.equal(done.failureCount, 0);
    assert.deepEqual(
      counts('commit').map((n, i) => n - before.commit[i]!),
      [1, 1, 1],
    );
    assert.deepEqual(
      counts('submit_audit').map((n, i) => n - before.submit[i]!),
      [1, 1, 1],
    );
    assert.deepEqual(
      counts('release').map((n, i) => n - before.release[i]!),
      [1, 1, 1],
    );
    const recovered = p.logger.records().filter((r) => r.event === 'rollout.recovered');
    assert.deepEqual(recovered.map((r) => [r.stage, r.landed]).sort(), [
      ['committing', true],
      ['submitting', true],
    ]);
  });

  it('stops submitting when the quota runs out and resumes when it returns', async () => {
    // Prepare: one submission left this month; the stored figure is old, so the rollout reads it first.
    p.sim.code.setQuota({ rest: 1, limit: 1 });
    p.advance(700);
    const before = counts('submit_audit');
    // Act
    const { rolloutId } = (await p.action('rollout', { templateId: 1, userVersion: '1.0.2', userDesc: 'quota', all: true })) as { rolloutId: string };
    const paused = await p.until(
      () => status(rolloutId),
      (s) => s.stages.released === 1 && s.waitingForQuota === 2,
    );
    const stillOut = await p.sweep();
    p.sim.code.setQuota({ rest: 5, limit: 10 });
    const back = await p.sweep();
    const done = await p.until(
      () => status(rolloutId),
      (s) => s.stages.released === 3,
    );
    // Assess
    assert.equal(paused.stages.committed, 2);
    assert.deepEqual(
      counts('submit_audit').map((n, i) => n - before[i]!),
      [1, 1, 1],
      'no submission was made while the quota was out',
    );
    assert.ok(!p.sim.callLog.some((c) => c.errcode === 85085), 'WeChat never had to refuse a submission');
    assert.equal(stillOut.woken, 0);
    assert.equal(back.woken, 2);
    assert.equal(done.waitingForQuota, 0);
    assert.equal(p.sim.code.quota().rest, 3);
  });
});
