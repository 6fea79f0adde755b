// The rollout's other paths against the real handlers, the simulator and DynamoDB Local (docs/fleet.md): input
// refused before anything is written, manual release in a second phase, revert, gray release and its raise to
// everyone, a delayed audit, WeChat's permanent and transient refusals, an 85085 the stored quota did not foresee,
// audit pushes outside any rollout and their duplicates, the template library, and what `all` leaves out.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { SIMULATOR_COMPONENT } from '../../../infra/local/credentials.ts';
import { DetailType, schemaName } from '../../../lib/events/catalogue.ts';
import { BadRequestError } from '../../../lib/kernel/errors.ts';
import type { RolloutStatus } from '../../../lib/fleet/status.ts';
import { sealPush } from '../../../infra/local/simulator/pusher.ts';
import { auditPushXml, AUDIT_SENDER } from '../../../infra/local/simulator/audits.ts';
import { createHandler as createAdminHandler } from '../../../functions/admin/handler.ts';
import { startFleetPlatform, type FleetPlatform } from '../../helpers/fleet-platform.ts';
import { validate } from '../../helpers/json-schema.ts';
import { findSecrets } from '../../helpers/secret-scan.ts';

let p: FleetPlatform;
let a: string;
let b: string;

const status = async (rolloutId: string) => (await p.action('rolloutStatus', { rolloutId })) as unknown as RolloutStatus;
// Two seconds apart: WeChat's audit pushes of one account carry only their second (CreateTime), and a push
// repeating an (account, event, second) is a duplicate; audits of successive rollouts here finish in milliseconds.
const start = async (input: Record<string, unknown>) => {
  p.advance(2);
  return ((await p.action('rollout', { templateId: 1, userDesc: 'test', ...input })) as { rolloutId: string }).rolloutId;
};
const reach = (rolloutId: string, done: (s: RolloutStatus) => boolean) => p.until(() => status(rolloutId), done);
const items = async (prefix: string) =>
  ((await p.table.doc.send(new ScanCommand({ TableName: p.table.tableName, ConsistentRead: true }))).Items ?? []).filter((i) =>
    String(i.pk).startsWith(prefix),
  );

before(async () => {
  p = await startFleetPlatform();
  [a, b] = (await p.authorizeMiniPrograms(2)) as [string, string];
});
after(async () => p?.stop());

describe('rollout input', () => {
  it('refuses an unknown template, ineligible accounts and malformed fields, writing nothing', async () => {
    // Prepare
    const official = (await p.sim.authorize({ kind: 'official' })).authorizerAppid;
    await p.until(
      () => items('AUTHORIZER#'),
      (all) => all.some((i) => i.pk === `AUTHORIZER#${official}` && i.sk === 'PROFILE'),
    );
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ templateId: 99, userVersion: '1.0.0', all: true }, /template 99 is not in the template library; templates: 1 \(1\.0\.0\)/],
      [{ userVersion: '1.0.0', authorizers: [a, official] }, new RegExp(`${official} is not a mini program`)],
      [{ userVersion: '1.0.0', authorizers: ['wx00000000000000ff'] }, /has not authorized this component/],
      [{ userVersion: '1.0.0', all: true, tenant: 'acme' }, /exactly one target/],
      [{ userVersion: '1.0.0', tenant: 'nobody' }, /no authorized mini program that granted code management with tenant nobody/],
      [{ userVersion: '1.0.0', all: true, release: 'gray:0' }, /release must be/],
      [{ userVersion: 'x'.repeat(65), all: true }, /userVersion/],
      [{ userVersion: '1.0.0', all: true, extJson: '{not json' }, /extJson must be a JSON object/],
      [{ userVersion: '1.0.0', all: true, submitaudit: false }, /unknown field\(s\): submitaudit/],
    ];
    // Act & Assess
    for (const [input, message] of cases) {
      await assert.rejects(start(input), (e: unknown) => e instanceof BadRequestError && message.test(e.message), JSON.stringify(input));
    }
    assert.deepEqual(await items('ROLLOUT#'), []);
    assert.equal(p.sim.calls('commit'), 0);
  });
});

describe('release modes', () => {
  it('waits for `release` in manual mode, completing once per phase, then reverts to the previous live version', async () => {
    // Prepare: a first version live on `a`.
    const first = await start({ userVersion: '1.0.0', authorizers: [a] });
    await reach(first, (s) => s.stages.released === 1);
    // Act
    const manual = await start({ userVersion: '1.1.0', authorizers: [a], release: 'manual' });
    await reach(manual, (s) => s.stages.audit_succeeded === 1);
    const phase1 = await p.sweep();
    const released = await p.action('release', { rolloutId: manual });
    await reach(manual, (s) => s.stages.released === 1);
    const liveAfterRelease = p.sim.code.account(a).live?.userVersion;
    const phase2 = await p.sweep();
    const reverted = await p.action('revert', { rolloutId: manual });
    const done = await reach(manual, (s) => s.stages.reverted === 1);
    const phase3 = await p.sweep();
    // Assess
    assert.ok(phase1.completed.includes(manual));
    assert.deepEqual(released, { rolloutId: manual, requested: 1, phase: 2 });
    assert.equal(liveAfterRelease, '1.1.0');
    assert.ok(phase2.completed.includes(manual));
    assert.deepEqual(reverted, { rolloutId: manual, requested: 1, phase: 3 });
    assert.ok(phase3.completed.includes(manual));
    assert.equal(done.halted, true);
    assert.equal(p.sim.code.account(a).live?.userVersion, '1.0.0');
    const completions = (await p.events()).filter((e) => e.detailType === 'Rollout Completed' && e.detail.rolloutId === manual);
    assert.deepEqual(
      completions.map((e) => [e.detail.phase, e.detail.stages]),
      [
        [1, { audit_succeeded: 1 }],
        [2, { released: 1 }],
        [3, { reverted: 1 }],
      ],
    );
    await assert.rejects(p.action('release', { rolloutId: manual }), /was reverted/);
  });

  it('gray-releases at the given percentage and raises it to everyone on `release`', async () => {
    // Act
    const gray = await start({ userVersion: '1.2.0', authorizers: [a], release: 'gray:10' });
    await reach(gray, (s) => s.stages.gray_released === 1);
    const plan = p.sim.code.account(a).gray;
    await p.action('release', { rolloutId: gray });
    await reach(gray, (s) => s.stages.released === 1);
    // Assess
    assert.deepEqual([plan?.status, plan?.percentage], [1, 10]);
    assert.equal(p.sim.code.account(a).live?.userVersion, '1.2.0');
    assert.equal(p.sim.code.account(a).gray?.status, 3);
  });

  it('passes through audit_delayed when WeChat delays the audit, reporting the delay', async () => {
    // Prepare
    p.sim.code.setAudit({ authorizerAppid: b, outcome: 'delay', afterDelay: 'pass' });
    // Act
    const id = await start({ userVersion: '1.3.0', authorizers: [b] });
    await reach(id, (s) => s.stages.released === 1);
    p.sim.code.setAudit({ authorizerAppid: b, outcome: 'pass' });
    // Assess
    const events = (await p.events()).filter((e) => e.detail.authorizerAppid === b);
    assert.ok(events.some((e) => e.detailType === 'Mini Program Audit Delayed' && typeof e.detail.reason === 'string'));
    const stages = events.filter((e) => e.detailType === 'Rollout Account Updated' && e.detail.rolloutId === id).map((e) => e.detail.stage);
    assert.deepEqual(stages, ['committed', 'submitted', 'audit_delayed', 'audit_succeeded', 'released']);
  });
});

describe('WeChat refusals', () => {
  it('marks an account failed with errcode and errmsg when WeChat refuses the commit for good, and never submits it', async () => {
    // Prepare
    p.sim.inject({ api: 'commit', errcode: 85013, errmsg: 'invalid ext_json' });
    const submits = p.sim.calls('submit_audit');
    // Act
    const id = await start({ userVersion: '1.4.0', authorizers: [b] });
    const done = await reach(id, (s) => s.stages.failed === 1);
    // Assess
    assert.equal(done.failures.length, 1);
    assert.deepEqual(
      { ...done.failures[0], reason: done.failures[0]?.reason.replace(/ rid: .*$/, '') },
      {
        authorizerAppid: b,
        stage: 'failed',
        reason: 'invalid ext_json',
        step: 'committing',
        errcode: 85013,
      },
    );
    assert.equal(p.sim.calls('submit_audit'), submits);
  });

  it('backs off after a busy WeChat and submits once the backoff is over', async () => {
    // Prepare: -1 three times: the client's own two retries are not enough.
    p.sim.inject({ api: 'submit_audit', errcode: -1, times: 3 });
    // Act
    const id = await start({ userVersion: '1.5.0', authorizers: [b] });
    const waiting = await reach(id, (s) => s.retrying === 1);
    const early = await p.sweep();
    p.advance(61);
    const due = await p.sweep();
    const done = await reach(id, (s) => s.stages.released === 1);
    // Assess
    assert.equal(waiting.stages.committed, 1);
    assert.equal(early.woken, 0);
    assert.equal(due.woken, 1);
    assert.equal(done.failureCount, 0);
  });

  it('takes an 85085 the stored quota did not foresee as the quota running out, and resumes when it returns', async () => {
    // Prepare: WeChat has nothing left while the stored figure (fresh) still says plenty.
    p.sim.code.setQuota({ rest: 0 });
    // Act
    const id = await start({ userVersion: '1.6.0', authorizers: [b] });
    const paused = await reach(id, (s) => s.waitingForQuota === 1);
    p.sim.code.setQuota({ rest: 3 });
    const back = await p.sweep();
    await reach(id, (s) => s.stages.released === 1);
    // Assess
    assert.equal(paused.stages.committed, 1);
    assert.equal(p.sim.callLog.filter((c) => c.api === 'submit_audit' && c.errcode === 85085).length, 1);
    assert.equal(back.woken, 1);
  });
});

describe('audit pushes', () => {
  it('reports a result no rollout waits for once, however often WeChat delivers it, and answers each delivery', async () => {
    // Prepare
    const account = p.sim.accounts().find((x) => x.appid === a)!;
    const xml = auditPushXml({
      toUser: account.userName,
      createTime: Math.floor(Date.now() / 1000) + 5,
      event: 'weapp_audit_success',
      timeField: 'SuccTime',
    });
    const deliver = async () => {
      const { body, query } = sealPush(p.sim.keys, xml, {
        label: 'audit',
        timestamp: Math.floor(Date.now() / 1000),
        outer: { name: 'ToUserName', value: account.userName },
        query: { openid: AUDIT_SENDER },
      });
      const response = await fetch(`${p.server.url}/wechat/authorizers/${a}/callback?${query}`, { method: 'POST', body });
      return [response.status, await response.text()];
    };
    const before = (await p.events()).length;
    // Act
    const answers = [await deliver(), await deliver()];
    await p.drain();
    // Assess
    assert.deepEqual(answers, [
      [200, 'success'],
      [200, 'success'],
    ]);
    const added = (await p.events()).slice(before);
    assert.equal(added.length, 1);
    assert.equal(added[0]?.detailType, 'Mini Program Audit Succeeded');
    assert.equal(added[0]?.detail.authorizerAppid, a);
  });
});

describe('templates and targets', () => {
  it('lists the library, adds a draft as a template, and leaves accounts without code management out of `all`', async () => {
    // Prepare
    const draftId = p.sim.code.uploadDraft({ userVersion: '2.0.0', userDesc: 'new' });
    const noCode = (await p.authorizeMiniPrograms(1, { funcInfo: [17, 19] }))[0]!;
    // Act
    const library = (await p.action('templates', { addDraftId: String(draftId) })) as {
      drafts: { draftId: number }[];
      templates: { templateId: number; userVersion: string }[];
    };
    const id = await start({ templateId: 2, userVersion: '2.0.0', all: true, submitAudit: 'false' });
    const done = await reach(id, (s) => s.stages.committed === 2);
    // Assess
    assert.ok(library.drafts.some((d) => d.draftId === draftId));
    assert.deepEqual(
      library.templates.map((t) => [t.templateId, t.userVersion]),
      [
        [1, '1.0.0'],
        [2, '2.0.0'],
      ],
    );
    assert.equal(done.accounts, 2);
    assert.deepEqual(done.skipped, [{ authorizerAppid: noCode, reason: 'has not granted permission set 18 (code management)' }]);
    assert.equal(p.sim.code.account(noCode).calls.commit, undefined);
    assert.ok((await p.sweep()).completed.includes(id));
  });
});

describe('admin function', () => {
  it('runs the fleet actions from its registry, answering bad input as bad_request', async () => {
    // Prepare
    const admin = createAdminHandler(p.deps);
    p.advance(2);
    // Act
    const badMode = await admin({ action: 'rollout', templateId: 1, userVersion: '1.0.0', userDesc: 'x', all: true, release: 'sometimes' });
    const numeric = await admin({ action: 'rollout', templateId: 1, userVersion: 2, userDesc: 'x', all: true });
    const badId = await admin({ action: 'rolloutStatus', rolloutId: 'nope' });
    const started = (await admin({ action: 'rollout', templateId: 1, userVersion: '3.0.0', userDesc: 'x', authorizers: a, submitAudit: false })) as {
      rolloutId: string;
    };
    const done = await p.until(
      () => admin({ action: 'rolloutStatus', rolloutId: started.rolloutId }) as Promise<Record<string, unknown>>,
      (s) => (s.stages as Record<string, number>).committed === 1,
    );
    // Assess
    assert.match(String((badMode as { error: { type: string; message: string } }).error.message), /release must be/);
    assert.deepEqual(
      [badMode, numeric, badId].map((r) => (r as { error: { type: string } }).error.type),
      ['bad_request', 'bad_request', 'bad_request'],
    );
    assert.match((numeric as { error: { message: string } }).error.message, /quote a number-like value/);
    assert.equal(done.accounts, 1);
  });
});

describe('fleet events', () => {
  it('validates every event the fleet wrote against its schema, covers the five fleet types, and finds no secret in any', async () => {
    // Prepare: a rejected audit too.
    p.sim.code.setAudit({ authorizerAppid: b, outcome: 'fail', reason: '1:名称不符合规范<br>' });
    const id = await start({ userVersion: '4.0.0', authorizers: [b] });
    await reach(id, (s) => s.stages.audit_failed === 1);
    p.sim.code.setAudit({ authorizerAppid: b, outcome: 'pass' });
    const known = new Set<string>([SIMULATOR_COMPONENT.appSecret, SIMULATOR_COMPONENT.token, SIMULATOR_COMPONENT.encodingAesKey]);
    for (const account of p.sim.accounts()) if (account.refreshToken) known.add(account.refreshToken);
    for (const item of await items('')) {
      for (const name of ['ticket', 'accessToken', 'refreshToken', 'previousRefreshToken']) if (typeof item[name] === 'string') known.add(item[name]);
    }
    // Act
    const events = await p.events();
    const problems = events.flatMap((e) => {
      const schema = JSON.parse(
        readFileSync(new URL(`../../../docs/events/${schemaName(e.detailType as never)}.schema.json`, import.meta.url), 'utf8'),
      );
      return [...validate(schema, e.detail), ...findSecrets(e, known)].map((x) => `${e.detailType} ${x}`);
    });
    // Assess
    assert.deepEqual(problems, []);
    const fleetTypes = ['Mini Program Audit', 'Rollout'];
    assert.deepEqual(
      [...new Set(events.map((e) => e.detailType))].filter((t) => fleetTypes.some((f) => t.startsWith(f))).sort(),
      [
        DetailType.MiniProgramAuditDelayed,
        DetailType.MiniProgramAuditFailed,
        DetailType.MiniProgramAuditSucceeded,
        DetailType.RolloutAccountUpdated,
        DetailType.RolloutCompleted,
      ].sort(),
    );
  });
});
