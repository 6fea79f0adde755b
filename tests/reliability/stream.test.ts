// Failed stream work, through the real platform (the simulator pushing to the real ticket handler, the table's
// stream feeding the real authorized handler, its retry schedule run by hand): one account failing forever
// holds up nobody else; its retries are spaced; ordering between its grant and its revocation holds across a
// retry; an event given up on raises StreamEventDropped and is replayed by id with `redrive`.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BadRequestError } from '../../lib/kernel/errors.ts';
import { getFailure } from '../../lib/store/failures.ts';
import { MAX_ATTEMPTS, RETRY_BASE_S } from '../../lib/stream/failures.ts';
import { redrive } from '../../lib/stream/redrive.ts';
import { pushTicket, startPlatform, type Platform } from './platform.ts';

let offset = 0;
const clock = () => Date.now() + offset;
const advance = (ms: number) => {
  offset += ms;
};
const nowS = () => Math.floor(clock() / 1000);
let p: Platform;
let n = 0;
/** A fresh account id per test, so injections for one never touch another. */
const nextAppid = () => `wx${(0xe0e0000000000000n + BigInt((n += 1))).toString(16)}`;

before(async () => {
  p = await startPlatform({ clock });
  await pushTicket(p, advance);
  await p.token({});
});
after(async () => {
  p.sim.clearInjections();
  await p.stop();
});

/** The failure of the one event an account's authorization push became. */
const failureOf = async (appid: string) => (await p.failures()).find((f) => f.event.authorizerAppid === appid && f.event.infoType === 'authorized');

/** Moves the clock to the account's next attempt and runs the retry schedule once. */
const nextAttempt = async (appid: string) => {
  const failure = await failureOf(appid);
  advance(((failure?.nextAttemptAt ?? nowS()) - nowS() + 1) * 1000);
  return p.retryFailures();
};

describe('one account failing forever', () => {
  it("does not delay another account's authorization: the stream acknowledges it and takes the next records", async () => {
    // Prepare: WeChat answers -1 to everything about account A, forever.
    const failing = nextAppid();
    p.sim.inject({ api: 'api_get_authorizer_info', authorizerAppid: failing, errcode: -1, times: 1_000_000 });
    const batchesBefore = p.batches.length;
    // Act: A authorizes, then B, right behind it on the stream.
    await p.sim.authorize({ authorizerAppid: failing });
    const { authorizerAppid: other } = await p.sim.authorize();
    await p.drain();
    // Assess: B is complete at its first delivery; A waits for its retry, one interval away.
    const profile = await p.profile(other);
    assert.equal(profile?.status, 'authorized');
    assert.ok((profile?.info as { nickName?: string } | undefined)?.nickName, 'B has its account info');
    assert.ok(
      p.batches.slice(batchesBefore).every((b) => b.failed === 0),
      'no record was reported back to the stream',
    );
    const failure = await failureOf(failing);
    assert.equal(failure?.state, 'retrying');
    assert.equal(failure?.attempts, 1);
    assert.equal(failure?.cause.errcode, -1);
    assert.equal(failure?.cause.api, 'component/api_get_authorizer_info');
    assert.ok((failure?.nextAttemptAt ?? 0) - nowS() <= RETRY_BASE_S);
    assert.ok(p.logger.records().some((r) => r.event === 'event.retry_scheduled' && r.authorizerAppid === failing));
  });

  it("spaces the failing account's retries (a minute, then two, …) while new accounts keep landing at once", async () => {
    // Prepare
    const failing = (await p.failures()).find((f) => f.state === 'retrying')!.event.authorizerAppid!;
    // Act
    advance(30_000);
    const early = await p.retryFailures();
    const second = await nextAttempt(failing);
    const afterSecond = await failureOf(failing);
    const { authorizerAppid: third } = await p.sim.authorize();
    await p.drain();
    // Assess
    assert.deepEqual([early.due, second.failed], [0, 1]);
    assert.equal(afterSecond?.attempts, 2);
    assert.equal((afterSecond?.nextAttemptAt ?? 0) - (afterSecond?.lastFailedAt ?? 0), 2 * RETRY_BASE_S);
    assert.equal((await p.profile(third))?.status, 'authorized');
  });

  it('lands the failing account once WeChat answers again, and resolves its failure', async () => {
    // Prepare
    const failing = (await p.failures()).find((f) => f.state === 'retrying')!.event.authorizerAppid!;
    p.sim.clearInjections();
    // Act
    const run = await nextAttempt(failing);
    // Assess
    assert.equal(run.succeeded, 1);
    assert.equal((await failureOf(failing))?.state, 'resolved');
    assert.ok(((await p.profile(failing))?.info as { nickName?: string } | undefined)?.nickName);
  });
});

describe('ordering across a retry', () => {
  it('keeps an account revoked when its grant, retried later, is older than the revocation consumed meanwhile', async () => {
    // Prepare: the grant fails after its profile is stored (the info call), so it is retried.
    const appid = nextAppid();
    p.sim.inject({ api: 'api_get_authorizer_info', authorizerAppid: appid, errcode: -1, times: 1_000_000 });
    await p.sim.authorize({ authorizerAppid: appid });
    await p.drain();
    advance(2_000);
    await p.sim.unauthorize(appid);
    await p.drain();
    p.sim.clearInjections();
    // Act
    const left = await p.settle(advance);
    // Assess
    assert.deepEqual(left, []);
    assert.equal((await p.profile(appid))?.status, 'unauthorized');
    assert.equal((await failureOf(appid))?.state, 'resolved');
  });
});

describe('an event given up on', () => {
  it('is dropped after MAX_ATTEMPTS spaced attempts, counted as StreamEventDropped and logged with its id', async () => {
    // Prepare
    const appid = nextAppid();
    p.sim.inject({ api: 'api_get_authorizer_info', authorizerAppid: appid, errcode: -1, times: 1_000_000 });
    const droppedBefore = p.deps.metrics.sum('StreamEventDropped');
    await p.sim.authorize({ authorizerAppid: appid });
    await p.drain();
    // Act
    for (let attempt = 2; attempt <= MAX_ATTEMPTS; attempt += 1) await nextAttempt(appid);
    // Assess
    const failure = await failureOf(appid);
    assert.equal(failure?.state, 'dropped');
    assert.equal(failure?.attempts, MAX_ATTEMPTS);
    assert.equal(p.deps.metrics.sum('StreamEventDropped') - droppedBefore, 1);
    const line = p.logger.records().find((r) => r.event === 'event.dropped' && r.eventId === failure?.eventId);
    assert.deepEqual([line?.authorizerAppid, line?.reason], [appid, 'retries_exhausted']);
    assert.equal((await p.retryFailures()).due, 0, 'a dropped event is not retried by the schedule');
    p.sim.clearInjections();
  });

  it('is replayed by id with redrive once the cause is fixed, running the same handler, and then resolved', async () => {
    // Prepare
    const dropped = (await p.failures()).find((f) => f.state === 'dropped')!;
    const appid = dropped.event.authorizerAppid!;
    p.sim.resetCounters();
    // Act
    const answer = await redrive(p.deps, { eventId: dropped.eventId });
    const again = await redrive(p.deps, { all: true });
    // Assess
    assert.deepEqual(answer, { eventId: dropped.eventId, result: 'succeeded' });
    assert.equal((await getFailure(p.deps, dropped.eventId))?.state, 'resolved');
    assert.ok(((await p.profile(appid))?.info as { nickName?: string } | undefined)?.nickName);
    assert.equal(p.sim.calls('api_query_auth'), 0, 'the code was exchanged once, on the first delivery');
    assert.deepEqual(again, { redriven: 0, succeeded: 0, failed: [], more: false });
  });

  it('redrives every dropped event with {"all":true}, reports the ones that fail again and keeps them dropped', async () => {
    // Prepare: two accounts whose events are dropped; one will work on redrive, the other still fails.
    const [fixed, broken] = [nextAppid(), nextAppid()];
    for (const appid of [fixed, broken]) p.sim.inject({ api: 'api_get_authorizer_info', authorizerAppid: appid, errcode: -1, times: 1_000_000 });
    for (const appid of [fixed, broken]) await p.sim.authorize({ authorizerAppid: appid });
    await p.drain();
    const left = await p.settle(advance, 3 * MAX_ATTEMPTS);
    p.sim.clearInjections();
    p.sim.inject({ api: 'api_get_authorizer_info', authorizerAppid: broken, errcode: 45009, times: 1_000_000 });
    // Act
    const answer = await redrive(p.deps, { all: true });
    // Assess
    assert.deepEqual(
      left.map((f) => f.state),
      ['dropped', 'dropped'],
    );
    assert.equal(answer.redriven, 2);
    assert.equal(answer.succeeded, 1);
    const failed = answer.failed as { eventId: string; error: { errcode?: number } }[];
    assert.deepEqual(
      failed.map((f) => f.error.errcode),
      [45009],
    );
    assert.equal((await failureOf(broken))?.state, 'dropped');
    assert.equal((await failureOf(fixed))?.state, 'resolved');
    p.sim.clearInjections();
  });

  it('refuses a redrive without a valid event id or {"all":true}, changing nothing', async () => {
    for (const input of [{}, { eventId: 'x' }, { all: false }, { eventId: 'a'.repeat(64), all: true }, { eventID: 'a'.repeat(64) }]) {
      await assert.rejects(redrive(p.deps, input), BadRequestError, JSON.stringify(input));
    }
    assert.deepEqual(await redrive(p.deps, { eventId: 'f'.repeat(64) }), { eventId: 'f'.repeat(64), result: 'not_found' });
  });
});
