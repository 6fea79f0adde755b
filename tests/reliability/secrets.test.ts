// No secret ever reaches a log line. Runs every scenario the platform has, end to end through the real
// handlers (ticket push, start page, authorization by push and by landing page, token fetch, scheduled
// refresh, release-check messages, 61023 recovery, revocation, failures of every kind), captures every
// line the platform's logger writes and everything written to stdout (metrics, any stray console output),
// collects the actual secret values from the simulator and the table, and fails if any line contains one.
import { signedLandingQuery, signedStartQuery } from '../helpers/links.ts';
import { TEST_LINK_SIGNING_KEY } from '../helpers/sls.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RELEASE_TEST_ACCOUNTS } from '../../lib/release-test/replies.ts';
import { encryptedPushEvent } from '../helpers/wechat-push.ts';
import { textXml } from '../helpers/wechat-message.ts';
import { COMPONENT, startPlatform, type Platform } from './platform.ts';

const [TEST_APPID, TEST_GH] = [...RELEASE_TEST_ACCOUNTS][0]!;
let now = Date.now();
let p: Platform;
const stdoutLines: string[] = [];
const secrets = new Set<string>();
const originalWrite = process.stdout.write.bind(process.stdout);
const originalErrorWrite = process.stderr.write.bind(process.stderr);
type Write = (chunk: string | Uint8Array, ...rest: unknown[]) => boolean;

/** Keeps what the platform writes to a stream (JSON lines, anything from console.*) and lets the rest through. */
const capture = (stream: NodeJS.WriteStream, original: Write): void => {
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    stdoutLines.push(text);
    if (text.startsWith('{"')) return true;
    return original(chunk, ...rest);
  }) as typeof stream.write;
};

const keep = (value: unknown): void => {
  if (typeof value === 'string' && value.length >= 8) secrets.add(value);
};

/** Every credential value the simulator and the table hold right now. */
const collect = async (): Promise<void> => {
  for (const value of [COMPONENT.appSecret, COMPONENT.token, COMPONENT.encodingAesKey, TEST_LINK_SIGNING_KEY, p.sim.latestTicket()]) keep(value);
  for (const account of p.sim.accounts()) keep(account.refreshToken);
  for (const item of await p.items()) {
    for (const name of ['ticket', 'accessToken', 'refreshToken', 'previousRefreshToken', 'preAuthCode']) keep(item[name]);
    const authorization = item.authorization as Record<string, unknown> | undefined;
    keep(authorization?.authorizerAccessToken);
    keep(authorization?.authorizerRefreshToken);
    const payload = item.payload as Record<string, unknown> | undefined;
    for (const name of ['AuthorizationCode', 'PreAuthCode', 'auth_code', 'queryAuthCode', 'ComponentVerifyTicket']) keep(payload?.[name]);
  }
};

const advance = (seconds: number) => {
  now += seconds * 1000;
};

before(async () => {
  capture(process.stdout, originalWrite as Write);
  capture(process.stderr, originalErrorWrite as Write);
  p = await startPlatform({ clock: () => now, messageAppids: [TEST_APPID] });
});
after(async () => {
  process.stdout.write = originalWrite;
  process.stderr.write = originalErrorWrite;
  await p.stop();
});

describe('secrets in logs', () => {
  it('never writes an app secret, token, EncodingAESKey, ticket, access or refresh token or code to any log line, whatever happens', async () => {
    // Act: ticket push, then the start page (a fresh pre_auth_code).
    assert.equal((await p.sim.pushTicket()).status, 200);
    const start = await p.get(`/wechat/component/authorize${signedStartQuery({}, { nowS: Math.floor(now / 1000) })}`);
    assert.equal(start.status, 200);
    for (const match of start.body.matchAll(/pre_auth_code=([^&"]+)/g)) keep(decodeURIComponent(match[1]!));

    // Authorization by push (stream → authorized) and by landing page.
    const pushed = await p.sim.authorize({ funcInfo: [1, 15] });
    keep(pushed.authorizationCode);
    await p.drain();
    const landed = await p.sim.authorize({ push: false });
    keep(landed.authorizationCode);
    const landing = await p.get(`/wechat/component/authorized${signedLandingQuery(landed.authorizationCode, { nowS: Math.floor(now / 1000) })}`);
    assert.equal(landing.status, 200);

    // Tokens on demand.
    const component = await p.token({});
    const account = await p.token({ authorizerAppid: pushed.authorizerAppid });
    keep(component.accessToken);
    keep(account.accessToken);

    // Scheduled refresh two hours later (every token due), with a new ticket pushed first.
    advance(7200);
    await p.sim.pushTicket();
    const refreshed = await p.refresh();

    // Release check: the API-text case (code exchanged, customer text sent with the account's token).
    const release = await p.sim.authorize({ authorizerAppid: TEST_APPID, push: false });
    keep(release.authorizationCode);
    const delivery = {
      label: 'text',
      timestamp: Math.floor(now / 1000),
      outer: { name: 'ToUserName' as const, value: TEST_GH },
      query: { openid: 'o6_release' },
    };
    const inner = textXml({
      toUser: TEST_GH,
      fromUser: 'o6_release',
      createTime: Math.floor(now / 1000),
      content: `QUERY_AUTH_CODE:${release.authorizationCode}`,
      msgId: '1234567890123456',
    });
    assert.equal((await p.sim.deliver(p.messageUrl(TEST_APPID), inner, delivery)).status, 200);
    await p.drain();

    // 61023: WeChat rotated the refresh token behind our back; recovery via api_get_authorizer_list.
    await p.sim.reauthorize(landed.authorizerAppid, { push: false });
    advance(7200);
    await p.sim.pushTicket();
    const recovered = await p.token({ authorizerAppid: landed.authorizerAppid });
    keep(recovered.accessToken);

    // Failures: 40001 mid-flight, -1 until retries run out, quota, IP whitelist, ticket rejected, a timeout.
    p.sim.expireComponentTokens();
    await p.get(`/wechat/component/authorize${signedStartQuery({}, { nowS: Math.floor(now / 1000) })}`);
    advance(7200);
    p.sim.inject({ api: 'api_component_token', errcode: -1, times: 3 });
    const busy = (await p.token({})).error as { type?: string; errcode?: number } | undefined;
    p.sim.inject({ api: 'api_component_token', errcode: 45009 });
    const quota = await p.refresh();
    p.sim.inject({ api: 'api_component_token', errcode: 61004 });
    await p.token({}).catch(() => undefined);
    p.sim.inject({ api: 'api_component_token', errcode: 61006 });
    await p.token({}).catch(() => undefined);
    await p.sim.pushTicket();
    p.sim.setLatency(2_000, 'api_authorizer_token');
    const slow = await p.token({ authorizerAppid: pushed.authorizerAppid }).catch((error: Error) => ({ thrown: error.name }));
    p.sim.setLatency(0, 'api_authorizer_token');
    // A forged push and a revocation.
    const forged = encryptedPushEvent('<xml><AppId>x</AppId></xml>', {
      token: 'wrong-token',
      appId: COMPONENT.appId,
      encodingAesKey: COMPONENT.encodingAesKey,
    });
    await fetch(`${p.ticketUrl}?${new URLSearchParams(forged.queryStringParameters as Record<string, string>)}`, {
      method: 'POST',
      body: forged.body,
    });
    await p.sim.unauthorize(pushed.authorizerAppid);
    await p.drain();
    await collect();

    // Assess: the scenarios really ran…
    assert.equal(typeof component.accessToken, 'string');
    assert.equal(typeof account.accessToken, 'string');
    assert.equal(refreshed.component, 'refreshed');
    assert.equal(typeof recovered.accessToken, 'string', JSON.stringify(recovered));
    assert.ok(p.sim.customerMessages().some((m) => m.content === `${release.authorizationCode}_from_api`));
    assert.deepEqual([busy?.type, busy?.errcode], ['wechat_error', -1], 'a WeChat failure is an answer, not a thrown error');
    assert.equal(quota.component, 'failed', JSON.stringify(quota));
    // 2 s of latency against the client's 800 ms timeout: the call times out, answered as wechat_unreachable.
    assert.equal((slow as { error?: { type?: string } }).error?.type, 'wechat_unreachable', JSON.stringify(slow));
    assert.equal((await p.profile(pushed.authorizerAppid))?.status, 'unauthorized');
    const lines = [...p.logger.lines, ...stdoutLines];
    originalWrite(`secrets: ${lines.length} log lines checked against ${secrets.size} secret values\n`);
    assert.ok(lines.length > 40, `${lines.length} lines captured`);
    assert.ok(secrets.size >= 15, `${secrets.size} secret values collected`);
    // …and no line carries any secret value, nor an unmasked credential shape.
    const leaks = lines.flatMap((line) => [...secrets].filter((s) => line.includes(s)).map((s) => `${s.slice(0, 12)}… in ${line.slice(0, 160)}`));
    assert.deepEqual(leaks, []);
    const shapes = lines.filter((line) => /(ticket|queryauthcode|preauthcode|refreshtoken)@@@(?!\[redacted\])/i.test(line));
    assert.deepEqual(shapes, []);
  });
});
