// Faults, injected where they happen in production: WeChat's answers (the simulator: -1, timeouts, 45009,
// 61004, 61006, 61023, 40001 mid-flight) and DynamoDB's (SDK middleware: throttling inside and outside the
// SDK's retries, a write failing or losing its answer halfway through an authorization). Everything runs
// through the real handlers: token, refresh, authorize, ticket, and authorized fed by the table's stream.
// Checked throughout: no refresh token is ever deleted or replaced by an older one; WeChat is called a
// bounded number of times; a failed stream batch is retried and lands once; errors are typed and logged
// with the account id and the errcode.
import { signedLandingQuery, signedStartQuery } from '../helpers/links.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { authorizedXml, encryptedPushEvent } from '../helpers/wechat-push.ts';
import { throttled, throttling, type FaultRule } from '../helpers/faults.ts';
import { CLIENT_TIMEOUT_MS, COMPONENT, expireEverything, partition, pushTicket, simRefreshToken, startPlatform, type Platform } from './platform.ts';

// Time flows as usual; tests move it forward (`offset`) to make tokens due without waiting two hours.
let offset = 0;
const clock = () => Date.now() + offset;
let p: Platform;
/** Every refresh token each account's profile has held, in order. */
const history = new Map<string, string[]>();

const nowS = () => Math.floor(clock() / 1000);
const advance = (ms: number) => {
  offset += ms;
};

/** The stored refresh token is never absent and never goes back to one it has already replaced. */
const observe = async (appid: string): Promise<string> => {
  const stored = (await p.profile(appid))?.refreshToken;
  assert.equal(typeof stored, 'string', `${appid} lost its refresh token`);
  const seen = history.get(appid) ?? [];
  if (seen.at(-1) !== stored) {
    assert.ok(!seen.includes(stored as string), `${appid} went back to an older refresh token`);
    seen.push(stored as string);
  }
  history.set(appid, seen);
  return stored as string;
};

/** An account authorized through the landing page (no stream involved). */
const authorizedAccount = async (): Promise<string> => {
  const { authorizerAppid, authorizationCode } = await p.sim.authorize({ push: false });
  const landing = await p.get(`/wechat/component/authorized${signedLandingQuery(authorizationCode, { nowS: nowS() })}`);
  assert.equal(landing.status, 200, landing.body.slice(0, 300));
  await observe(authorizerAppid);
  return authorizerAppid;
};

const failure = async <T>(work: Promise<T>): Promise<Error> => {
  let result: T;
  try {
    result = await work;
  } catch (error) {
    return error as Error;
  }
  assert.fail(`expected a failure, got ${JSON.stringify(result).slice(0, 200)}`);
};

type Answered = { type: string; errcode?: number; api?: string };
/** The `{"error"}` a WeChat failure comes back as from `token` (never a function error). */
const answered = async (work: Promise<Record<string, unknown>>): Promise<Answered> => {
  const reply = await work;
  assert.ok(reply.error, `expected an error answer, got ${JSON.stringify(reply).slice(0, 200)}`);
  return reply.error as Answered;
};

before(async () => {
  // Between stream retries time passes (Lambda's backoff), so work another attempt left half done is seen as stale.
  p = await startPlatform({ clock, streamRetries: 4, onFailedBatch: () => (offset += 6_000) });
  await pushTicket(p, advance);
});
after(async () => {
  p.ddb.clearFaults();
  await p.stop();
});

describe('WeChat faults (simulator)', () => {
  it('retries -1 a bounded number of times: success after two, a typed -1 after three attempts', async () => {
    // Prepare
    await expireEverything(p, advance);
    p.sim.resetCounters();
    p.sim.inject({ api: 'api_component_token', errcode: -1, times: 2 });
    // Act
    const first = await p.token({});
    await expireEverything(p, advance);
    p.sim.inject({ api: 'api_component_token', errcode: -1, times: 3 });
    const error = await answered(p.token({}));
    // Assess
    assert.equal(typeof first.accessToken, 'string');
    assert.deepEqual(error, { ...error, type: 'wechat_error', errcode: -1, api: 'component/api_component_token' });
    assert.equal(p.sim.calls('api_component_token'), 6);
    assert.equal(typeof (await p.token({})).accessToken, 'string');
    assert.equal(p.sim.calls('api_component_token'), 7);
  });

  it('fails a WeChat timeout typed after one api_authorizer_token call, keeps the refresh token, and recovers', async () => {
    // Prepare
    const appid = await authorizedAccount();
    await p.token({});
    await expireEverything(p, advance);
    await p.token({});
    p.sim.resetCounters();
    p.sim.setLatency(CLIENT_TIMEOUT_MS + 400, 'api_authorizer_token');
    // Act
    const error = await answered(p.token({ authorizerAppid: appid }));
    p.sim.setLatency(0, 'api_authorizer_token');
    const retried = await p.token({ authorizerAppid: appid });
    // The simulator counts a call when it answers: let the abandoned one finish.
    for (let waited = 0; p.sim.calls('api_authorizer_token') < 2 && waited < 5_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    // Assess
    assert.deepEqual([error.type, error.api], ['wechat_unreachable', 'component/api_authorizer_token']);
    assert.equal(typeof retried.accessToken, 'string');
    assert.equal(p.sim.calls('api_authorizer_token'), 2);
    assert.equal(await observe(appid), simRefreshToken(p, appid));
  });

  it('never retries 45009, 61004 or 61006, and reports each typed with the API and the errcode', async () => {
    // Prepare
    const appid = await authorizedAccount();
    await expireEverything(p, advance);
    p.sim.resetCounters();
    // Act
    p.sim.inject({ api: 'api_component_token', errcode: 61004 });
    const ip = await answered(p.token({}));
    p.sim.inject({ api: 'api_component_token', errcode: 61006 });
    const ticket = await p.token({});
    const component = await p.token({});
    p.sim.inject({ api: 'api_authorizer_token', errcode: 45009 });
    const quota = await answered(p.token({ authorizerAppid: appid }));
    // Assess
    assert.deepEqual([ip.type, ip.errcode], ['wechat_error', 61004]);
    assert.deepEqual((ticket.error as { type: string }).type, 'ticket_invalid');
    assert.equal(typeof component.accessToken, 'string');
    assert.deepEqual([quota.type, quota.errcode, quota.api], ['wechat_error', 45009, 'component/api_authorizer_token']);
    assert.equal(p.sim.calls('api_component_token'), 3);
    assert.equal(p.sim.calls('api_authorizer_token'), 1);
    assert.equal(await observe(appid), simRefreshToken(p, appid));
  });

  it('answers 40001 mid-flight by expiring exactly the rejected component token and retrying once', async () => {
    // Prepare
    await p.token({});
    p.sim.expireComponentTokens();
    p.sim.resetCounters();
    // Act
    const start = await p.get(`/wechat/component/authorize${signedStartQuery({}, { nowS: nowS() })}`);
    // Assess
    assert.equal(start.status, 200);
    assert.equal(p.sim.calls('api_create_preauthcode'), 2);
    assert.equal(p.sim.calls('api_component_token'), 1);
    assert.ok(p.logger.records().some((r) => r.event === 'component_token.rejected' && (r.error as { errcode?: number }).errcode === 40001));
  });

  it('on 61023 marks needs_reauth without deleting the refresh token, and recovers a rotated one from api_get_authorizer_list', async () => {
    // Prepare
    const [lost, rotated] = [await authorizedAccount(), await authorizedAccount()];
    const lostToken = await observe(lost);
    await p.token({});
    await expireEverything(p, advance);
    await p.token({});
    await p.sim.reauthorize(rotated, { push: false });
    p.sim.resetCounters();
    // Act
    p.sim.inject({ api: 'api_authorizer_token', errcode: 61023 });
    const gone = await p.token({ authorizerAppid: lost });
    const recovered = await p.token({ authorizerAppid: rotated });
    // Assess
    assert.equal((gone.error as { type: string }).type, 'needs_reauth');
    const profile = await p.profile(lost);
    assert.equal(profile?.status, 'needs_reauth');
    assert.equal(profile?.refreshToken, lostToken);
    assert.equal(typeof recovered.accessToken, 'string', JSON.stringify(recovered));
    assert.equal(await observe(rotated), simRefreshToken(p, rotated));
    assert.equal(p.sim.calls('api_authorizer_token'), 3);
    assert.equal(p.sim.calls('api_get_authorizer_list'), 2);
    assert.ok(p.logger.records().some((r) => r.event === 'authorizer.needs_reauth' && r.authorizerAppid === lost));
  });

  it('logs every failed account of a refresh run with its id and errcode, and keeps refreshing the others', async () => {
    // Prepare
    const accounts = [await authorizedAccount(), await authorizedAccount(), await authorizedAccount()];
    await expireEverything(p, advance);
    p.sim.resetCounters();
    p.logger.lines.length = 0;
    // Neither is retried by the client, so each fails exactly one account, whichever the run takes first.
    p.sim.inject({ api: 'api_authorizer_token', errcode: 45009 });
    p.sim.inject({ api: 'api_authorizer_token', errcode: 61004 });
    // Act
    const summary = (await p.refresh()) as { failed: Record<string, number>; refreshed: number };
    // Assess
    assert.equal(summary.failed['45009'], 1, JSON.stringify(summary));
    assert.equal(summary.failed['61004'], 1, JSON.stringify(summary));
    assert.ok(summary.refreshed >= accounts.length - 2);
    const failures = p.logger
      .records()
      .filter((r) => typeof r.event === 'string' && r.event.startsWith('authorizer_token.') && r.errcode !== undefined);
    assert.deepEqual(failures.map((r) => r.errcode).sort(), ['45009', '61004']);
    for (const r of failures) {
      assert.match(String(r.authorizerAppid), /^wx[0-9a-f]{16}$/);
      assert.equal((r.error as { name: string }).name, 'WeChatApiError');
    }
    // One call per due account: nothing retried 45009 or 61004.
    assert.equal(p.sim.calls('api_authorizer_token'), summary.refreshed + 2);
    for (const appid of accounts) assert.equal(await observe(appid), simRefreshToken(p, appid));
  });
});

describe('WeChat faults during a pushed authorization (stream)', () => {
  it('logs the failed delivery with the account id and errcode, retries the batch, and lands once', async () => {
    // Prepare
    await p.token({});
    p.sim.resetCounters();
    p.sim.inject({ api: 'api_query_auth', errcode: -1, times: 3 });
    // Act
    const { authorizerAppid } = await p.sim.authorize();
    await p.drain();
    // Assess
    const retry = p.logger.records().find((r) => r.event === 'event.retry' && r.authorizerAppid === authorizerAppid);
    assert.ok(retry, 'event.retry names the account');
    assert.deepEqual([(retry.error as { name: string }).name, (retry.error as { errcode: number }).errcode], ['WeChatApiError', -1]);
    assert.equal((await p.profile(authorizerAppid))?.status, 'authorized');
    assert.equal(await observe(authorizerAppid), simRefreshToken(p, authorizerAppid));
    // Three attempts of the first delivery (-1 is retried twice by the client), one of the stream's retry.
    assert.equal(p.sim.calls('api_query_auth'), 4);
  });
});

/** Writes to one partition family: CODE#, AUTHORIZER#, … */
const writesTo =
  (prefix: string): FaultRule['match'] =>
  (call) =>
    call.write && call.pks.some((pk) => pk.startsWith(prefix));

describe('DynamoDB faults (SDK middleware)', () => {
  it('absorbs a throttling burst inside the SDK retries: the ticket push answers success and the ticket is stored', async () => {
    // Prepare
    const fault = p.ddb.inject({ match: writesTo('COMPONENT#'), where: 'inside-retry', times: 2, error: throttling });
    // Act
    await pushTicket(p, advance);
    // Assess
    assert.equal(fault.fired(), 2);
    assert.equal((await p.item({ pk: `COMPONENT#${COMPONENT.appId}`, sk: 'TICKET' }))?.ticket, p.sim.latestTicket());
    p.ddb.clearFaults();
  });

  it("answers 500 when throttling outlasts the SDK retries, writes nothing, and WeChat's retry of the push lands once", async () => {
    // Prepare
    const { authorizerAppid, authorizationCode } = await p.sim.authorize({ push: false });
    const xml = authorizedXml({ appId: COMPONENT.appId, createTime: nowS(), authorizerAppid, code: authorizationCode });
    const event = encryptedPushEvent(xml, { ...COMPONENT, timestamp: String(nowS()) });
    const send = () =>
      fetch(`${p.ticketUrl}?${new URLSearchParams(event.queryStringParameters as Record<string, string>)}`, { method: 'POST', body: event.body });
    p.sim.resetCounters();
    const fault = p.ddb.inject({ match: writesTo('EVENT#'), error: throttled });
    // Act
    const first = await send();
    const eventsAfterFirst = (await p.items()).filter((i) => i.authorizerAppid === authorizerAppid && String(i.pk).startsWith('EVENT#'));
    const retries = await Promise.all([send(), send()]);
    await p.drain();
    // Assess
    assert.equal(first.status, 500);
    assert.equal(fault.fired(), 1);
    assert.deepEqual(eventsAfterFirst, []);
    assert.deepEqual(await Promise.all(retries.map((r) => r.text())), ['success', 'success']);
    assert.equal((await p.items()).filter((i) => i.authorizerAppid === authorizerAppid && String(i.pk).startsWith('EVENT#')).length, 1);
    assert.equal((await p.profile(authorizerAppid))?.status, 'authorized');
    assert.equal(p.sim.calls('api_query_auth'), 1);
    p.ddb.clearFaults();
  });

  // `retried`: the failure makes the stream deliver the event again. A failed cache write after api_query_auth
  // does not: the code is spent, so the result in hand is stored right away (regression: it used to be dropped,
  // and the retry's second api_query_auth got 61009 and lost the authorization).
  const steps: { name: string; prefix: string; nth: number; where: 'outside-retry' | 'after-write'; retried: boolean }[] = [
    { name: 'claiming the code', prefix: 'CODE#', nth: 1, where: 'outside-retry', retried: true },
    { name: 'caching the api_query_auth result', prefix: 'CODE#', nth: 2, where: 'outside-retry', retried: false },
    { name: 'caching the api_query_auth result (answer lost)', prefix: 'CODE#', nth: 2, where: 'after-write', retried: false },
    { name: 'the profile and token transaction', prefix: 'AUTHORIZER#', nth: 1, where: 'outside-retry', retried: true },
    { name: 'the profile and token transaction (answer lost)', prefix: 'AUTHORIZER#', nth: 1, where: 'after-write', retried: true },
    { name: 'marking the code applied', prefix: 'CODE#', nth: 3, where: 'outside-retry', retried: true },
    { name: 'storing the authorizer info', prefix: 'AUTHORIZER#', nth: 2, where: 'outside-retry', retried: true },
  ];
  for (const step of steps) {
    const how = step.retried ? 'the stream retries it and it lands once' : 'it lands once, without a retry';
    it(`completes an authorization pushed while ${step.name} fails: ${how}`, async () => {
      // Prepare
      await p.token({});
      p.sim.resetCounters();
      const batchesBefore = p.batches.length;
      const fault = p.ddb.inject({ match: writesTo(step.prefix), nth: step.nth, where: step.where });
      // Act
      const { authorizerAppid } = await p.sim.authorize({ funcInfo: [1, 15] });
      await p.drain();
      p.ddb.clearFaults();
      // Assess
      assert.equal(fault.fired(), 1);
      const profile = await p.profile(authorizerAppid);
      assert.equal(
        profile?.status,
        'authorized',
        JSON.stringify(
          p.logger
            .records()
            .filter((r) => r.level !== 'debug' && r.level !== 'info')
            .slice(-3),
        ),
      );
      assert.equal(await observe(authorizerAppid), simRefreshToken(p, authorizerAppid));
      assert.ok((profile?.info as { nickName?: string } | undefined)?.nickName);
      assert.equal(p.sim.calls('api_query_auth'), 1);
      const batches = p.batches.slice(batchesBefore);
      assert.equal(
        batches.some((b) => b.failed > 0),
        step.retried,
        `batches: ${JSON.stringify(batches)}`,
      );
      assert.equal(batches.at(-1)?.failed, 0);
      assert.equal((await partition(p, `AUTHORIZER#${authorizerAppid}`)).filter((i) => i.sk === 'ACCESS_TOKEN').length, 1);
    });
  }

  /** An account whose token is due, with WeChat rotating refresh tokens on every api_authorizer_token. */
  const rotatingAccount = async (): Promise<string> => {
    const appid = await authorizedAccount();
    await p.token({});
    await expireEverything(p, advance);
    await p.token({});
    p.sim.setRefreshTokenRotation(true);
    p.sim.resetCounters();
    return appid;
  };

  it('keeps a rotated refresh token when the refresh transaction fails once', async () => {
    // Prepare
    const appid = await rotatingAccount();
    const fault = p.ddb.inject({ match: writesTo(`AUTHORIZER#${appid}`), error: throttled });
    // Act
    const answer = await p.token({ authorizerAppid: appid }).catch((error: Error) => ({ thrown: error.name }));
    p.ddb.clearFaults();
    p.sim.setRefreshTokenRotation(false);
    // Assess: whether or not this caller got its token, the refresh token WeChat now holds is the stored one.
    assert.equal(fault.fired(), 1);
    assert.equal(await observe(appid), simRefreshToken(p, appid), JSON.stringify(answer));
    assert.equal(p.sim.calls('api_authorizer_token'), 1);
  });

  it('recovers a rotated refresh token whose every write failed from api_get_authorizer_list on the next request', async () => {
    // Prepare
    const appid = await rotatingAccount();
    const fault = p.ddb.inject({ match: writesTo(`AUTHORIZER#${appid}`), times: Infinity });
    // Act
    const lost = await failure(p.token({ authorizerAppid: appid }));
    p.ddb.clearFaults();
    const staleStored = await observe(appid);
    const recovered = await p.token({ authorizerAppid: appid });
    p.sim.setRefreshTokenRotation(false);
    // Assess
    assert.ok(fault.fired() >= 1);
    assert.equal(lost.name, 'ProvisionedThroughputExceededException');
    assert.notEqual(staleStored, simRefreshToken(p, appid));
    assert.equal(typeof recovered.accessToken, 'string', JSON.stringify(recovered));
    assert.equal(await observe(appid), simRefreshToken(p, appid));
    // The lost exchange, the stale token's 61023, the listed token's exchange.
    assert.equal(p.sim.calls('api_authorizer_token'), 3);
    assert.equal(p.sim.calls('api_get_authorizer_list'), 1);
  });
});
