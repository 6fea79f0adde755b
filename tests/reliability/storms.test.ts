// Storms and races across components, through the real handlers: a hundred callers asking for one expired
// token, the scheduled refresh racing on-demand requests, a lease holder that dies, WeChat's duplicate and
// reordered authorization pushes (ticket handler → stream → authorized), and one authorization code
// arriving by push and by landing page at the same moment. WeChat (the simulator) answers slowly on
// purpose, so every race window is wide open.
import { signedLandingQuery } from '../helpers/links.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { authorizerLease } from '../../lib/tokens/authorizer-token.ts';
import { acquireLease } from '../../lib/store/claims.ts';
import { authorizedXml, unauthorizedXml } from '../helpers/wechat-push.ts';
import { COMPONENT, expireEverything, pushTicket, simRefreshToken, startPlatform, type Platform } from './platform.ts';

let offset = 0;
const clock = () => Date.now() + offset;
const nowS = () => Math.floor(clock() / 1000);
let p: Platform;
const SLOW_MS = 150;

const advance = (ms: number) => {
  offset += ms;
};
const authorizedAccount = async (): Promise<string> => {
  const { authorizerAppid, authorizationCode } = await p.sim.authorize({ push: false });
  assert.equal((await p.get(`/wechat/component/authorized${signedLandingQuery(authorizationCode, { nowS: nowS() })}`)).status, 200);
  return authorizerAppid;
};
/** A push sealed and signed by the simulator, as WeChat sends it, to the real ticket handler. */
const push = async (xml: string) => (await p.sim.deliver(p.ticketUrl, xml, { label: 'push', timestamp: nowS() })).status;

before(async () => {
  // A storm of 100 callers on 2 cores delays everyone: give WeChat's answer production-like room (5 s there).
  p = await startPlatform({ clock, clientTimeoutMs: 3_000, onFailedBatch: () => (offset += 6_000) });
  await pushTicket(p, advance);
  p.sim.setLatency(SLOW_MS);
});
after(async () => {
  p.sim.setLatency(0);
  await p.stop();
});

describe('token storms', () => {
  it('serves 100 concurrent requests for an expired component token with one api_component_token call, all the same token', async () => {
    // Prepare
    await p.token({});
    await expireEverything(p, advance);
    p.sim.resetCounters();
    // Act
    const answers = await Promise.all(Array.from({ length: 100 }, () => p.token({})));
    // Assess
    assert.equal(p.sim.calls('api_component_token'), 1);
    assert.equal(new Set(answers.map((a) => a.accessToken)).size, 1);
    assert.equal(typeof answers[0]?.accessToken, 'string');
  });

  it('serves 100 concurrent requests for an expired authorizer token with one api_authorizer_token call, all the same token', async () => {
    // Prepare
    const appid = await authorizedAccount();
    await expireEverything(p, advance);
    await p.token({});
    p.sim.resetCounters();
    // Act
    const answers = await Promise.all(Array.from({ length: 100 }, () => p.token({ authorizerAppid: appid })));
    // Assess
    assert.equal(p.sim.calls('api_authorizer_token'), 1);
    assert.equal(new Set(answers.map((a) => a.accessToken)).size, 1, JSON.stringify(answers.find((a) => !a.accessToken)));
  });

  it('lets a scheduled refresh and on-demand requests race for one due token: one upstream call, one token for all', async () => {
    // Prepare
    const appid = await authorizedAccount();
    await expireEverything(p, advance);
    p.sim.resetCounters();
    // Act
    const [summary, ...answers] = await Promise.all([
      p.refresh(),
      ...Array.from({ length: 5 }, () => p.token({ authorizerAppid: appid })),
      ...Array.from({ length: 5 }, () => p.token({})),
    ]);
    // Assess
    assert.equal(p.sim.calls('api_component_token'), 1);
    // Every due account is refreshed exactly once: by the run, or by the caller that held its lease ('leased').
    const { refreshed, skipped } = summary as { refreshed: number; skipped: { leased: number } };
    assert.equal(p.sim.calls('api_authorizer_token'), refreshed + skipped.leased);
    const stored = (await p.item({ pk: `AUTHORIZER#${appid}`, sk: 'ACCESS_TOKEN' }))?.accessToken;
    assert.deepEqual(new Set(answers.slice(0, 5).map((a) => a.accessToken)), new Set([stored]));
    assert.equal(new Set(answers.slice(5).map((a) => a.accessToken)).size, 1);
  });

  it('takes over the lease of a holder that died, once the lease runs out, with one upstream call', async () => {
    // Prepare
    const appid = await authorizedAccount();
    await expireEverything(p, advance);
    await p.token({});
    await acquireLease(p.deps, authorizerLease(appid), 'holder-that-crashed', 60_000);
    p.sim.resetCounters();
    // Act
    const waiting = p.token({ authorizerAppid: appid });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const callsWhileHeld = p.sim.calls('api_authorizer_token');
    offset += 61_000;
    const answer = await waiting;
    // Assess
    assert.equal(callsWhileHeld, 0);
    assert.equal(typeof answer.accessToken, 'string', JSON.stringify(answer));
    assert.equal(p.sim.calls('api_authorizer_token'), 1);
    assert.ok(p.logger.records().some((r) => r.event === 'lease.taken_over' && r.lease === authorizerLease(appid)));
  });
});

describe('push races', () => {
  it('handles one authorized push delivered three times at once exactly once', async () => {
    // Prepare
    const { authorizerAppid, authorizationCode } = await p.sim.authorize({ push: false });
    const xml = authorizedXml({ appId: COMPONENT.appId, createTime: nowS(), authorizerAppid, code: authorizationCode });
    p.sim.resetCounters();
    // Act
    const statuses = await Promise.all([push(xml), push(xml), push(xml)]);
    await p.drain();
    // Assess
    assert.deepEqual(statuses, [200, 200, 200]);
    assert.equal(p.sim.calls('api_query_auth'), 1);
    const events = (await p.items()).filter((i) => String(i.pk).startsWith('EVENT#') && i.authorizerAppid === authorizerAppid);
    assert.equal(events.length, 1);
    assert.equal((await p.profile(authorizerAppid))?.refreshToken, simRefreshToken(p, authorizerAppid));
  });

  // t1 authorized (code 1) < t2 unauthorized < t3 authorized again (code 2): whatever order the pushes arrive
  // in, and each twice, the account ends authorized with the refresh token of the newest grant.
  const orders = [
    [1, 2, 3],
    [1, 3, 2],
    [2, 1, 3],
    [2, 3, 1],
    [3, 1, 2],
    [3, 2, 1],
  ];
  for (const order of orders) {
    it(`ends with the newest grant when authorized/unauthorized/authorized arrive as t${order.join(', t')} (each twice)`, async () => {
      // Prepare
      const first = await p.sim.authorize({ push: false });
      const appid = first.authorizerAppid;
      await p.sim.unauthorize(appid, { push: false });
      const second = await p.sim.authorize({ authorizerAppid: appid, push: false });
      const t = nowS();
      const pushes: Record<number, string> = {
        1: authorizedXml({ appId: COMPONENT.appId, createTime: t - 20, authorizerAppid: appid, code: first.authorizationCode }),
        2: unauthorizedXml({ appId: COMPONENT.appId, createTime: t - 10, authorizerAppid: appid }),
        3: authorizedXml({ appId: COMPONENT.appId, createTime: t, authorizerAppid: appid, code: second.authorizationCode }),
      };
      // Act
      for (const step of order) {
        assert.deepEqual(await Promise.all([push(pushes[step]!), push(pushes[step]!)]), [200, 200]);
        await p.drain();
      }
      // Assess
      const profile = await p.profile(appid);
      assert.equal(profile?.status, 'authorized');
      assert.equal(profile?.authorizedAt, t);
      assert.equal(profile?.refreshToken, simRefreshToken(p, appid));
    });
  }

  it('revokes an account whose unauthorized push is newer than the grant that arrives after it', async () => {
    // Prepare
    const { authorizerAppid, authorizationCode } = await p.sim.authorize({ push: false });
    await p.sim.unauthorize(authorizerAppid, { push: false });
    const t = nowS();
    // Act: the revocation arrives (and is consumed) before the older grant.
    await push(unauthorizedXml({ appId: COMPONENT.appId, createTime: t, authorizerAppid }));
    await p.drain();
    await push(authorizedXml({ appId: COMPONENT.appId, createTime: t - 10, authorizerAppid, code: authorizationCode }));
    await p.drain();
    // Assess: no token may be handed out for it.
    const answer = await p.token({ authorizerAppid });
    assert.ok(answer.error, JSON.stringify(answer));
    assert.notEqual((await p.profile(authorizerAppid))?.status, 'authorized');
  });

  // Stream records of different EVENT items may be processed out of order in AWS (one shard each): a revocation
  // consumed before the account's first grant leaves a REVOCATION marker that the older grant's write checks.
  it('keeps an account revoked when its revocation is consumed before the older first grant', async () => {
    // Prepare: WeChat still answers the code (the simulator's account stays authorized on its side).
    const { authorizerAppid, authorizationCode } = await p.sim.authorize({ push: false });
    const t = nowS();
    // Act
    await push(unauthorizedXml({ appId: COMPONENT.appId, createTime: t, authorizerAppid }));
    await p.drain();
    await push(authorizedXml({ appId: COMPONENT.appId, createTime: t - 10, authorizerAppid, code: authorizationCode }));
    await p.drain();
    // Assess
    assert.notEqual((await p.profile(authorizerAppid))?.status, 'authorized');
  });

  it('exchanges a code that arrives by push and by landing page at the same moment once', async () => {
    // Prepare
    const { authorizerAppid, authorizationCode } = await p.sim.authorize({ push: false });
    const xml = authorizedXml({ appId: COMPONENT.appId, createTime: nowS(), authorizerAppid, code: authorizationCode });
    p.sim.resetCounters();
    // Act
    const [pushed, landing] = await Promise.all([
      push(xml),
      p.get(`/wechat/component/authorized${signedLandingQuery(authorizationCode, { nowS: nowS() })}`),
    ]);
    await p.drain();
    // Assess
    assert.equal(pushed, 200);
    assert.equal(landing.status, 200, landing.body.slice(0, 300));
    assert.equal(p.sim.calls('api_query_auth'), 1);
    const profile = await p.profile(authorizerAppid);
    assert.equal(profile?.status, 'authorized');
    assert.equal(profile?.refreshToken, simRefreshToken(p, authorizerAppid));
  });
});
