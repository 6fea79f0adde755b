// The authorization lifecycle services against DynamoDB Local and the WeChat simulator (a real HTTP server).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { WeChatDeps } from '../../../lib/runtime/wechat-deps.ts';
import { BadRequestError } from '../../../lib/kernel/errors.ts';
import type { createMemoryLogger } from '../../../lib/kernel/logger.ts';
import { AuthorizationCodeError, CodeBusyError, completeAuthorization, exchangeCodeOnce } from '../../../lib/authorization/exchange.ts';
import { authorizationUrls, startAuthorization } from '../../../lib/authorization/start.ts';
import { newLinkId, verifyState, type LinkClaims } from '../../../lib/authorization/links.ts';
import { parseLandingQuery } from '../../../functions/authorize/request.ts';
import { forgetLinkPreAuthCode, getPreAuthOrigin, PRE_AUTH_REUSE_MIN_S } from '../../../lib/store/links.ts';
import { linkKey } from '../../../lib/store/keys.ts';
import { applyAuthorizationPush } from '../../../lib/authorization/pushes.ts';
import { PermanentEventError, processEventRecords, type EventHandlers } from '../../../lib/stream/dispatch.ts';
import { getAuthorizerAccessToken } from '../../../lib/tokens/authorizer-token.ts';
import { getComponentAccessToken } from '../../../lib/tokens/component-token.ts';
import { getAuthorizer } from '../../../lib/store/authorizers.ts';
import { claimCode, getCodeState } from '../../../lib/store/codes.ts';
import { eventId, type StoredEvent } from '../../../lib/store/events.ts';
import { getAuthorizerToken } from '../../../lib/store/tokens.ts';
import { SIMULATOR_COMPONENT } from '../../../infra/local/credentials.ts';
import type { Simulator } from '../../../infra/local/simulator/index.ts';
import { readFileSync } from 'node:fs';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { createHandler as createAuthorizedHandler } from '../../../functions/authorized/handler.ts';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { localClient } from '../../../infra/local/dynamodb.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { simulatorDeps } from '../../helpers/given.ts';

const PUBLIC_BASE_URL = 'https://platform.example.test';
let table: TestTable;
let sim: Simulator;
let deps: WeChatDeps;
let logger: ReturnType<typeof createMemoryLogger>;
const nowS = () => Math.floor(Date.now() / 1000);

before(async () => {
  table = await createTestTable();
  ({ sim, deps, logger } = await simulatorDeps(table, PUBLIC_BASE_URL));
});
after(async () => {
  await sim.stop();
  await table.close();
});
beforeEach(() => sim.resetCounters());

const pushEvent = (infoType: string, payload: Record<string, string>, createTime = nowS()): StoredEvent => {
  const base = { kind: 'component_push' as const, infoType, componentAppId: SIMULATOR_COMPONENT.appId, createTime, payload };
  const authorizerAppid = payload.AuthorizerAppid;
  const event = { ...base, ...(authorizerAppid ? { authorizerAppid } : {}) };
  return { ...event, id: eventId(event), receivedAt: createTime, expiresAt: createTime + 3600 };
};

const landing = (code: string, waitMs = 5_000) =>
  completeAuthorization(deps, { authorizationCode: code, codeExpiresAt: nowS() + 3600, authorizedAt: nowS(), waitMs });

describe('authorization.parseLandingQuery', () => {
  it('reads auth_code and expires_in, defaulting expires_in to an hour', () => {
    // Act / Assess
    assert.deepEqual(parseLandingQuery({ auth_code: 'queryauthcode@@@abc', expires_in: '600' }), {
      authorizationCode: 'queryauthcode@@@abc',
      expiresIn: 600,
    });
    assert.deepEqual(parseLandingQuery({ auth_code: 'queryauthcode@@@abc' }), { authorizationCode: 'queryauthcode@@@abc', expiresIn: 3600 });
  });

  it('rejects a missing or malformed auth_code or expires_in', () => {
    // Act / Assess
    for (const query of [
      undefined,
      {},
      { auth_code: '' },
      { auth_code: 'a b' },
      { auth_code: 'x'.repeat(513) },
      { auth_code: 'c', expires_in: '-1' },
      { auth_code: 'c', expires_in: '0' },
    ]) {
      assert.throws(() => parseLandingQuery(query), BadRequestError);
    }
  });
});

describe('authorization.authorizationUrls', () => {
  it('builds the PC and mobile links with an encoded redirect_uri, auth_type and biz_appid', () => {
    // Act
    const { pcUrl, mobileUrl } = authorizationUrls({
      componentAppId: 'wx5ce1ab0c0ffee000',
      preAuthCode: 'preauthcode@@@a+b/c',
      redirectUri: 'https://platform.example.test/wechat/component/authorized',
      authType: 2,
      bizAppid: 'wxc736b9251b3c6c41',
    });
    // Assess
    assert.equal(
      pcUrl,
      'https://mp.weixin.qq.com/cgi-bin/componentloginpage?component_appid=wx5ce1ab0c0ffee000&pre_auth_code=preauthcode%40%40%40a%2Bb%2Fc' +
        '&redirect_uri=https%3A%2F%2Fplatform.example.test%2Fwechat%2Fcomponent%2Fauthorized&auth_type=2&biz_appid=wxc736b9251b3c6c41',
    );
    assert.equal(
      mobileUrl,
      'https://open.weixin.qq.com/wxaopen/safe/bindcomponent?action=bindcomponent&no_scan=1&component_appid=wx5ce1ab0c0ffee000' +
        '&pre_auth_code=preauthcode%40%40%40a%2Bb%2Fc&redirect_uri=https%3A%2F%2Fplatform.example.test%2Fwechat%2Fcomponent%2Fauthorized' +
        '&auth_type=2&biz_appid=wxc736b9251b3c6c41#wechat_redirect',
    );
  });
});

const LANDING = `${PUBLIC_BASE_URL}/wechat/component/authorized`;
const link = (over: Partial<LinkClaims> = {}): LinkClaims => ({ linkId: newLinkId(), authType: 3, expiresAt: nowS() + 3600, ...over });
const preAuthCodeOf = (links: { pcUrl: string }) => new URL(links.pcUrl).searchParams.get('pre_auth_code');

describe('authorization.startAuthorization', () => {
  it('serves one pre_auth_code per link while it lives, and a new one to another link', async () => {
    // Prepare
    const acme = link({ tenant: 'acme', authType: 1 });
    // Act
    const views = [];
    for (let i = 0; i < 5; i += 1) views.push(await startAuthorization(deps, acme, LANDING));
    const other = await startAuthorization(deps, link(), LANDING);
    // Assess
    assert.equal(sim.calls('api_create_preauthcode'), 2);
    assert.equal(new Set(views.map(preAuthCodeOf)).size, 1);
    assert.match(preAuthCodeOf(views[0]!)!, /^preauthcode@@@/);
    assert.notEqual(preAuthCodeOf(other), preAuthCodeOf(views[0]!));
    assert.equal(new URL(views[0]!.pcUrl).searchParams.get('auth_type'), '1');
    assert.ok(views.every((v) => v.expiresIn > 0));
  });

  it('points redirect_uri at the landing page with a signed state naming the link and its tenant', async () => {
    // Prepare
    const acme = link({ tenant: 'acme', bizAppid: 'wxc736b9251b3c6c41' });
    // Act
    const links = await startAuthorization(deps, acme, LANDING);
    // Assess
    const redirect = new URL(new URL(links.mobileUrl).searchParams.get('redirect_uri')!);
    assert.equal(`${redirect.origin}${redirect.pathname}`, LANDING);
    const state = verifyState(deps.secrets.linkSigningKey, redirect.searchParams.get('state') ?? undefined, nowS());
    assert.equal(state.linkId, acme.linkId);
    assert.equal(state.tenant, 'acme');
    assert.ok(state.expiresAt > nowS() + links.expiresIn);
    assert.equal(new URL(links.pcUrl).searchParams.get('biz_appid'), 'wxc736b9251b3c6c41');
  });

  it('records which link and tenant each served pre_auth_code came from', async () => {
    // Prepare
    const acme = link({ tenant: 'acme' });
    // Act
    const code = preAuthCodeOf(await startAuthorization(deps, acme, LANDING))!;
    // Assess
    assert.deepEqual(await getPreAuthOrigin(deps, code), { linkId: acme.linkId, tenant: 'acme' });
    assert.equal(await getPreAuthOrigin(deps, 'preauthcode@@@never-served'), undefined);
  });

  it('shows the same pre_auth_code to concurrent first views of one link', async () => {
    // Prepare
    const acme = link();
    sim.setLatency(200, 'api_create_preauthcode');
    // Act
    const views = await Promise.all([startAuthorization(deps, acme, LANDING), startAuthorization(deps, acme, LANDING)]);
    sim.setLatency(0, 'api_create_preauthcode');
    // Assess
    assert.equal(preAuthCodeOf(views[0]), preAuthCodeOf(views[1]));
  });

  it('asks for a fresh pre_auth_code once the cached one is close to expiry or was spent', async () => {
    // Prepare
    const acme = link();
    const first = preAuthCodeOf(await startAuthorization(deps, acme, LANDING));
    await table.doc.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: linkKey(acme.linkId),
        UpdateExpression: 'SET expiresAt = :soon',
        ExpressionAttributeValues: { ':soon': nowS() + PRE_AUTH_REUSE_MIN_S - 1 },
      }),
    );
    // Act
    const second = preAuthCodeOf(await startAuthorization(deps, acme, LANDING));
    const forgotten = await forgetLinkPreAuthCode(deps, acme.linkId, second!);
    const third = preAuthCodeOf(await startAuthorization(deps, acme, LANDING));
    // Assess
    assert.notEqual(second, first);
    assert.equal(forgotten, true);
    assert.notEqual(third, second);
    assert.equal(sim.calls('api_create_preauthcode'), 3);
  });
});

describe('authorization.completeAuthorization with a tenant', () => {
  it('stores the tenant on the profile with the grant, and on a grant another caller stored first', async () => {
    // Prepare
    const first = await sim.authorize({ push: false });
    const second = await sim.authorize({ push: false });
    await landing(second.authorizationCode);
    // Act
    const saved = await completeAuthorization(deps, {
      authorizationCode: first.authorizationCode,
      codeExpiresAt: nowS() + 3600,
      waitMs: 5_000,
      tenant: 'acme',
    });
    const already = await completeAuthorization(deps, {
      authorizationCode: second.authorizationCode,
      codeExpiresAt: nowS() + 3600,
      waitMs: 5_000,
      tenant: 'globex',
    });
    // Assess
    assert.equal(saved.outcome, 'saved');
    assert.equal(already.outcome, 'already');
    assert.equal((await getAuthorizer(deps, first.authorizerAppid))?.tenant, 'acme');
    assert.equal((await getAuthorizer(deps, second.authorizerAppid))?.tenant, 'globex');
  });

  it('stores the tenant from the push when the pre_auth_code came from a signed link, and retires that code', async () => {
    // Prepare
    const acme = link({ tenant: 'acme' });
    const served = preAuthCodeOf(await startAuthorization(deps, acme, LANDING))!;
    const { authorizationCode, authorizerAppid, preAuthCode } = await sim.authorize({ push: false });
    // Act
    await applyAuthorizationPush(
      deps,
      pushEvent('authorized', { AuthorizerAppid: authorizerAppid, AuthorizationCode: authorizationCode, PreAuthCode: preAuthCode ?? '' }),
    );
    const next = preAuthCodeOf(await startAuthorization(deps, acme, LANDING));
    // Assess
    assert.equal(preAuthCode, served, 'the simulated owner authorized with the code the link served');
    assert.equal((await getAuthorizer(deps, authorizerAppid))?.tenant, 'acme');
    assert.notEqual(next, served);
  });

  it('stores no tenant for a pre_auth_code no signed link served', async () => {
    // Prepare
    const { authorizationCode, authorizerAppid } = await sim.authorize({ push: false });
    // Act
    await applyAuthorizationPush(
      deps,
      pushEvent('authorized', { AuthorizerAppid: authorizerAppid, AuthorizationCode: authorizationCode, PreAuthCode: 'preauthcode@@@elsewhere' }),
    );
    // Assess
    const profile = await getAuthorizer(deps, authorizerAppid);
    assert.equal(profile?.status, 'authorized');
    assert.equal(profile?.tenant, undefined);
  });
});

describe('authorization.completeAuthorization', () => {
  it('exchanges the code, stores profile, refresh token and access token, and returns the account info', async () => {
    // Prepare
    const { authorizationCode, authorizerAppid } = await sim.authorize({ push: false, nickName: 'Landing Only Co' });
    // Act
    const done = await landing(authorizationCode);
    // Assess
    assert.equal(done.authorizerAppid, authorizerAppid);
    assert.equal(done.outcome, 'saved');
    assert.equal(done.info?.nickName, 'Landing Only Co');
    const profile = await getAuthorizer(deps, authorizerAppid);
    assert.equal(profile?.status, 'authorized');
    assert.equal(profile?.refreshToken, sim.accounts().find((a) => a.appid === authorizerAppid)?.refreshToken);
    assert.ok(await getAuthorizerToken(deps, authorizerAppid));
    assert.equal(sim.calls('api_query_auth'), 1);
    assert.ok(!logger.lines.some((l) => l.includes(authorizationCode) || l.includes(profile!.refreshToken)));
  });

  it('spends the code once when the push and the landing page complete it concurrently', async () => {
    // Prepare
    const { authorizationCode, authorizerAppid } = await sim.authorize({ push: false });
    sim.setLatency(300, 'api_query_auth');
    // Act
    const results = await Promise.all([
      applyAuthorizationPush(deps, pushEvent('authorized', { AuthorizerAppid: authorizerAppid, AuthorizationCode: authorizationCode })),
      landing(authorizationCode),
      landing(authorizationCode),
    ]);
    sim.setLatency(0, 'api_query_auth');
    // Assess
    assert.equal(sim.calls('api_query_auth'), 1);
    assert.equal(results[1].authorizerAppid, authorizerAppid);
    assert.equal(results[2].authorizerAppid, authorizerAppid);
    assert.equal((await getAuthorizer(deps, authorizerAppid))?.status, 'authorized');
  });

  it('answers a second visit of the landing page from the cache without calling api_query_auth again', async () => {
    // Prepare
    const { authorizationCode } = await sim.authorize({ push: false });
    await landing(authorizationCode);
    // Act
    const again = await landing(authorizationCode);
    // Assess
    assert.equal(again.outcome, 'already');
    assert.equal(sim.calls('api_query_auth'), 1);
    assert.equal(sim.calls('api_get_authorizer_info'), 1);
  });

  it('throws AuthorizationCodeError for a code WeChat refuses, and remembers the refusal', async () => {
    // Act
    await assert.rejects(landing('queryauthcode@@@never-issued'), (e: unknown) => e instanceof AuthorizationCodeError && e.errcode === 61009);
    await assert.rejects(landing('queryauthcode@@@never-issued'), AuthorizationCodeError);
    // Assess
    assert.equal(sim.calls('api_query_auth'), 1);
  });

  it('refuses a code past its expiry without calling WeChat', async () => {
    // Act / Assess
    await assert.rejects(
      completeAuthorization(deps, { authorizationCode: 'queryauthcode@@@late', codeExpiresAt: nowS() - 1, authorizedAt: nowS(), waitMs: 0 }),
      (e: unknown) => e instanceof AuthorizationCodeError && e.errcode === 61010,
    );
    assert.equal(sim.calls('api_query_auth'), 0);
  });

  it('takes over a code whose claimant crashed once the claim has run out', async () => {
    // Prepare
    const { authorizationCode, authorizerAppid } = await sim.authorize({ push: false });
    await claimCode({ ...deps, clock: () => Date.now() - 60_000 }, authorizationCode, 'crashed-lambda', 30_000);
    // Act
    const done = await landing(authorizationCode);
    // Assess
    assert.equal(done.authorizerAppid, authorizerAppid);
    assert.equal(sim.calls('api_query_auth'), 1);
  });

  it('still stores its result when its claim ran out while WeChat was answering', async () => {
    // Prepare
    const { authorizationCode, authorizerAppid } = await sim.authorize({ push: false });
    sim.setLatency(400, 'api_query_auth');
    // Act
    const pending = landing(authorizationCode);
    await new Promise((r) => setTimeout(r, 200));
    const stolen = await claimCode({ ...deps, clock: () => Date.now() + 60_000 }, authorizationCode, 'impatient', 30_000);
    const done = await pending;
    sim.setLatency(0, 'api_query_auth');
    // Assess
    assert.equal(stolen, true);
    assert.equal(done.outcome, 'saved');
    assert.equal((await getAuthorizer(deps, authorizerAppid))?.status, 'authorized');
    assert.ok(logger.records().some((r) => r.event === 'authorization.code_claim_lost' && r.authorizerAppid === authorizerAppid));
  });

  it('gives up with CodeBusyError while another live claim holds the code', async () => {
    // Prepare
    const { authorizationCode } = await sim.authorize({ push: false });
    await claimCode(deps, authorizationCode, 'someone-else', 30_000);
    // Act / Assess
    await assert.rejects(landing(authorizationCode, 300), CodeBusyError);
    assert.equal(sim.calls('api_query_auth'), 0);
    assert.equal((await getCodeState(deps, authorizationCode))?.state, 'claimed');
  });

  it('releases the claim when WeChat fails transiently, so a retry can exchange the code', async () => {
    // Prepare
    const { authorizationCode } = await sim.authorize({ push: false });
    sim.inject({ api: 'api_query_auth', errcode: 45011, times: 1 });
    // Act
    await assert.rejects(landing(authorizationCode));
    const retried = await landing(authorizationCode);
    // Assess
    assert.equal(retried.outcome, 'saved');
    assert.equal(sim.calls('api_query_auth'), 2);
  });

  it('replaces the access token on re-authorization so the old one cannot be served', async () => {
    // Prepare
    const first = await sim.authorize({ push: false });
    await landing(first.authorizationCode);
    const before = await getAuthorizerToken(deps, first.authorizerAppid);
    // Act
    const again = await sim.reauthorize(first.authorizerAppid, { push: false });
    await completeAuthorization(deps, {
      authorizationCode: again.authorizationCode,
      codeExpiresAt: nowS() + 3600,
      authorizedAt: nowS() + 1,
      waitMs: 1000,
    });
    // Assess
    const after = await getAuthorizerToken(deps, first.authorizerAppid);
    assert.ok(before && after);
    assert.notEqual(after.accessToken, before.accessToken);
    const profile = await getAuthorizer(deps, first.authorizerAppid);
    assert.equal(profile?.refreshToken, sim.accounts().find((a) => a.appid === first.authorizerAppid)?.refreshToken);
  });
});

describe('authorization.completeAuthorization (late apply)', () => {
  it("counts the access token's expiry from the exchange, however late the cached result is applied", async () => {
    // Prepare: the claimant exchanged the code and died before storing the result on the profile.
    const { authorizationCode, authorizerAppid } = await sim.authorize({ push: false });
    const t0 = nowS();
    const exchanged = await exchangeCodeOnce(deps, authorizationCode, { codeExpiresAt: t0 + 3600, waitMs: 0 });
    const t1 = nowS();
    const expiresIn = exchanged.authorization.expiresIn!;
    const halfAnHourLater = { ...deps, clock: () => Date.now() + 30 * 60_000 };
    // Act: the stream retry applies it half an hour later.
    await applyAuthorizationPush(
      halfAnHourLater,
      pushEvent('authorized', { AuthorizerAppid: authorizerAppid, AuthorizationCode: authorizationCode }, t0),
    );
    // Assess
    const token = await getAuthorizerToken(deps, authorizerAppid);
    assert.ok(token);
    assert.ok(
      token.expiresAt >= t0 + expiresIn && token.expiresAt <= t1 + expiresIn,
      `expiresAt ${token.expiresAt - t1}s after the exchange, expires_in ${expiresIn}`,
    );
    assert.equal(sim.calls('api_query_auth'), 1);
  });
});

describe('authorization.applyAuthorizationPush', () => {
  it('revokes on unauthorized: status unauthorized, access token deleted, profile kept', async () => {
    // Prepare
    const { authorizationCode, authorizerAppid } = await sim.authorize({ push: false });
    await applyAuthorizationPush(
      deps,
      pushEvent('authorized', { AuthorizerAppid: authorizerAppid, AuthorizationCode: authorizationCode }, nowS() - 10),
    );
    // Act
    await applyAuthorizationPush(deps, pushEvent('unauthorized', { AuthorizerAppid: authorizerAppid }, nowS() - 5));
    // Assess
    const profile = await getAuthorizer(deps, authorizerAppid);
    assert.equal(profile?.status, 'unauthorized');
    assert.ok(profile?.refreshToken);
    assert.equal(await getAuthorizerToken(deps, authorizerAppid), undefined);
  });

  it('ignores an unauthorized push older than the latest authorization', async () => {
    // Prepare
    const { authorizationCode, authorizerAppid } = await sim.authorize({ push: false });
    await applyAuthorizationPush(
      deps,
      pushEvent('authorized', { AuthorizerAppid: authorizerAppid, AuthorizationCode: authorizationCode }, nowS() - 10),
    );
    // Act
    await applyAuthorizationPush(deps, pushEvent('unauthorized', { AuthorizerAppid: authorizerAppid }, nowS() - 20));
    // Assess
    assert.equal((await getAuthorizer(deps, authorizerAppid))?.status, 'authorized');
    assert.ok(await getAuthorizerToken(deps, authorizerAppid));
  });

  it('completes a successful fast registration from its auth_code and skips a failed one', async () => {
    // Prepare
    const { authorizationCode, authorizerAppid } = await sim.authorize({ push: false, kind: 'miniprogram' });
    // Act
    await applyAuthorizationPush(deps, pushEvent('notify_third_fasteregister', { appid: authorizerAppid, status: '89251', msg: 'pending' }));
    const callsAfterFailed = sim.calls('api_query_auth');
    await applyAuthorizationPush(
      deps,
      pushEvent('notify_third_fasteregister', { appid: authorizerAppid, status: '0', auth_code: authorizationCode, msg: 'OK' }),
    );
    // Assess
    assert.equal(callsAfterFailed, 0);
    const profile = await getAuthorizer(deps, authorizerAppid);
    assert.equal(profile?.status, 'authorized');
    assert.equal(profile?.info?.isMiniProgram, true);
  });

  it('recovers the authorization from api_get_authorizer_info when the pushed code was already spent', async () => {
    // Prepare: a claimant spent the code at WeChat and died before storing the result.
    const { authorizationCode, authorizerAppid } = await sim.authorize({ push: false, nickName: 'Spent Code Co' });
    const componentToken = await getComponentAccessToken(deps);
    await deps.wechat.apiQueryAuth(componentToken.accessToken, { componentAppId: SIMULATOR_COMPONENT.appId, authorizationCode });
    sim.resetCounters();
    // Act
    await applyAuthorizationPush(deps, pushEvent('authorized', { AuthorizerAppid: authorizerAppid, AuthorizationCode: authorizationCode }));
    const token = await getAuthorizerAccessToken(deps, authorizerAppid);
    // Assess
    const profile = await getAuthorizer(deps, authorizerAppid);
    assert.equal(profile?.status, 'authorized');
    assert.equal(profile?.info?.nickName, 'Spent Code Co');
    assert.equal(profile?.refreshToken, sim.accounts().find((a) => a.appid === authorizerAppid)?.refreshToken);
    assert.ok(token.accessToken);
    assert.equal(sim.calls('api_query_auth'), 1);
    assert.equal(sim.calls('api_authorizer_token'), 1);
    assert.ok(logger.records().some((r) => r.event === 'authorization.recovered_without_code' && r.authorizerAppid === authorizerAppid));
  });

  it("drops the old grant's access token when it recovers a re-authorization without a new one", async () => {
    // Prepare
    const first = await sim.authorize({ push: false });
    await landing(first.authorizationCode);
    const again = await sim.reauthorize(first.authorizerAppid, { push: false });
    const componentToken = await getComponentAccessToken(deps);
    await deps.wechat.apiQueryAuth(componentToken.accessToken, {
      componentAppId: SIMULATOR_COMPONENT.appId,
      authorizationCode: again.authorizationCode,
    });
    // Act
    await applyAuthorizationPush(
      deps,
      pushEvent('authorized', { AuthorizerAppid: first.authorizerAppid, AuthorizationCode: again.authorizationCode }, nowS() + 1),
    );
    // Assess
    assert.equal(await getAuthorizerToken(deps, first.authorizerAppid), undefined);
  });

  it('keeps a token another caller obtained with the new refresh token right after the recovery stored it', async () => {
    // Prepare: a claimant spent the code and died; a second client runs a token request the moment the
    // recovered authorization is committed (a real interleaving on DynamoDB Local, timed by a client hook).
    const { authorizationCode, authorizerAppid } = await sim.authorize({ push: false });
    const componentToken = await getComponentAccessToken(deps);
    await deps.wechat.apiQueryAuth(componentToken.accessToken, { componentAppId: SIMULATOR_COMPONENT.appId, authorizationCode });
    const client = localClient(table.endpoint);
    const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    let concurrent: Promise<unknown> | undefined;
    doc.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        if (!concurrent && JSON.stringify(args.input).includes(`AUTHORIZER#${authorizerAppid}`) && 'TransactItems' in (args.input as object)) {
          concurrent = getAuthorizerAccessToken(deps, authorizerAppid);
          await concurrent;
        }
        return result;
      },
      { step: 'initialize', name: 'concurrentTokenRequest' },
    );
    sim.resetCounters();
    // Act
    try {
      await applyAuthorizationPush(
        { ...deps, doc },
        pushEvent('authorized', { AuthorizerAppid: authorizerAppid, AuthorizationCode: authorizationCode }),
      );
    } finally {
      client.destroy();
    }
    const later = await getAuthorizerAccessToken(deps, authorizerAppid);
    // Assess
    assert.ok(concurrent, 'the concurrent token request ran');
    const obtained = (await concurrent) as { accessToken: string };
    assert.ok(later.accessToken === obtained.accessToken, 'the token obtained with the new refresh token was deleted');
    assert.equal(sim.calls('api_authorizer_token'), 1);
  });

  it('drops the push for good when the code is refused and the account no longer authorizes us', async () => {
    // Prepare
    const { authorizationCode, authorizerAppid } = await sim.authorize({ push: false });
    await sim.unauthorize(authorizerAppid, { push: false });
    // Act / Assess
    await assert.rejects(
      applyAuthorizationPush(deps, pushEvent('authorized', { AuthorizerAppid: authorizerAppid, AuthorizationCode: authorizationCode })),
      (e: unknown) => e instanceof PermanentEventError && e.cause instanceof AuthorizationCodeError && e.cause.errcode === 61003,
    );
    assert.equal(await getAuthorizer(deps, authorizerAppid), undefined);
  });

  it('raises a permanent failure for an authorized push without a code', async () => {
    // Act / Assess
    await assert.rejects(applyAuthorizationPush(deps, pushEvent('authorized', { AuthorizerAppid: 'wxc736b9251b3c6c41' })), PermanentEventError);
  });
});

describe('eventDispatch.processEventRecords', () => {
  const image = (e: StoredEvent) => ({ pk: `EVENT#${e.id}`, sk: 'EVENT', ...e });

  it('reports the first retryable failure and every record after it, and skips permanent failures', async () => {
    // Prepare
    const seen: string[] = [];
    const handlers: EventHandlers<WeChatDeps> = {
      component_push: async (_d, e) => {
        seen.push(e.infoType);
        if (e.infoType === 'permanent') throw new PermanentEventError('never works');
        if (e.infoType === 'flaky') throw new Error('try again');
      },
    };
    const records = [
      { sequenceNumber: '1', image: image(pushEvent('ok', {})) },
      { sequenceNumber: '2', image: { pk: 'EVENT#x', sk: 'EVENT', kind: 'weird' } },
      { sequenceNumber: '3', image: image(pushEvent('permanent', {})) },
      { sequenceNumber: '4', image: image(pushEvent('flaky', {})) },
      { sequenceNumber: '5', image: image(pushEvent('after', {})) },
    ];
    // Act
    const result = await processEventRecords(deps, handlers, records);
    // Assess
    assert.deepEqual(result, { batchItemFailures: [{ itemIdentifier: '4' }, { itemIdentifier: '5' }] });
    assert.deepEqual(seen, ['ok', 'permanent', 'flaky']);
  });

  it('drops events of a kind nobody handles, without a retry', async () => {
    // Prepare
    const task = { ...pushEvent('query_auth_code', {}), kind: 'release_test_task' as const };
    // Act
    const result = await processEventRecords(deps, {}, [{ sequenceNumber: '9', image: image(task) }]);
    // Assess
    assert.deepEqual(result, { batchItemFailures: [] });
    assert.ok(logger.records().some((r) => r.event === 'event.dropped' && r.sequenceNumber === '9'));
  });
});

describe('authorized handler', () => {
  it('consumes the sample stream event (tests/events/authorized.json) and drops its unknown code for good', async () => {
    // Prepare
    const event = JSON.parse(readFileSync('tests/events/authorized.json', 'utf8')) as DynamoDBStreamEvent;
    // Act
    const result = await createAuthorizedHandler(deps)(event);
    // Assess
    assert.deepEqual(result, { batchItemFailures: [] });
    const dropped = logger.records().find((r) => r.event === 'event.dropped' && r.sequenceNumber === '100000000000000000001');
    // The simulator knows neither the code nor the account: the push cannot be completed or recovered.
    assert.equal((dropped?.error as { name?: string } | undefined)?.name, 'PermanentEventError');
  });

  it('reports a record for retry when WeChat is busy, by its SequenceNumber', async () => {
    // Prepare
    const { authorizationCode, authorizerAppid } = await sim.authorize({ push: false });
    const e = pushEvent('authorized', { AuthorizerAppid: authorizerAppid, AuthorizationCode: authorizationCode });
    const image = {
      pk: { S: `EVENT#${e.id}` },
      sk: { S: 'EVENT' },
      kind: { S: e.kind },
      infoType: { S: e.infoType },
      componentAppId: { S: e.componentAppId },
      authorizerAppid: { S: authorizerAppid },
      createTime: { N: String(e.createTime) },
      receivedAt: { N: String(e.receivedAt) },
      expiresAt: { N: String(e.expiresAt) },
      payload: { M: { AuthorizerAppid: { S: authorizerAppid }, AuthorizationCode: { S: authorizationCode } } },
    };
    const event = { Records: [{ eventName: 'INSERT', dynamodb: { SequenceNumber: '777', NewImage: image } }] } as unknown as DynamoDBStreamEvent;
    // The client retries -1 twice itself: three answers make one invocation fail.
    sim.inject({ api: 'api_query_auth', errcode: -1, times: 3 });
    // Act
    const busy = await createAuthorizedHandler(deps)(event);
    const retried = await createAuthorizedHandler(deps)(event);
    // Assess
    assert.deepEqual(busy, { batchItemFailures: [{ itemIdentifier: '777' }] });
    assert.deepEqual(retried, { batchItemFailures: [] });
    assert.equal((await getAuthorizer(deps, authorizerAppid))?.status, 'authorized');
  });
});
