// The `authorize` function's handler against DynamoDB Local and the WeChat simulator: signed links on the start
// page, signed states on the landing page, and what a request without them costs (nothing).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createHandler } from '../../../functions/authorize/handler.ts';
import { localClient } from '../../../infra/local/dynamodb.ts';
import type { Simulator } from '../../../infra/local/simulator/index.ts';
import { authorizationLink } from '../../../lib/authorization/link-action.ts';
import { exchangeCodeOnce } from '../../../lib/authorization/exchange.ts';
import { newLinkId, signLink, signState } from '../../../lib/authorization/links.ts';
import type { createMemoryLogger } from '../../../lib/kernel/logger.ts';
import { createMemoryMetrics } from '../../../lib/kernel/metrics.ts';
import type { HttpEvent, HttpResult } from '../../../lib/runtime/http.ts';
import type { WeChatDeps } from '../../../lib/runtime/wechat-deps.ts';
import { getAuthorizer } from '../../../lib/store/authorizers.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { simulatorDeps } from '../../helpers/given.ts';

const BASE = 'https://platform.example.test';
const START = '/wechat/component/authorize';
const LANDING = '/wechat/component/authorized';
let table: TestTable;
let sim: Simulator;
let deps: WeChatDeps;
let logger: ReturnType<typeof createMemoryLogger>;
let writes: string[];
let metrics: ReturnType<typeof createMemoryMetrics>;
let closeClient: () => void;

const nowS = () => Math.floor(Date.now() / 1000);

before(async () => {
  table = await createTestTable();
  ({ sim, deps, logger } = await simulatorDeps(table, BASE));
  // The handler's own client counts every write it sends, so "no write" is observed, not assumed.
  const client = localClient(table.endpoint);
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      if (/^(Put|Update|Delete|TransactWrite|BatchWrite)/.test(String(context.commandName))) writes.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'countWrites' },
  );
  deps = { ...deps, doc };
  closeClient = () => client.destroy();
});
after(async () => {
  closeClient();
  await sim.stop();
  await table.close();
});
beforeEach(() => {
  sim.resetCounters();
  writes = [];
  metrics = createMemoryMetrics();
});

const get = (rawPath: string, query?: Record<string, string>): Promise<HttpResult> =>
  createHandler(deps, metrics)({ rawPath, ...(query ? { queryStringParameters: query } : {}) } as HttpEvent);

/** A link as the operator's console gets it, reduced to its `link` query value. */
const issue = async (input: Record<string, unknown> = {}): Promise<string> => {
  const { url } = (await authorizationLink(deps, input)) as { url: string };
  assert.ok(url.startsWith(`${BASE}${START}?link=`));
  return new URL(url).searchParams.get('link')!;
};

const hrefs = (page: HttpResult) => {
  const body = String(page.body);
  const href = (id: string) => new URL((new RegExp(`id="${id}" href="([^"]+)"`).exec(body)?.[1] ?? '').replaceAll('&amp;', '&'));
  return { pc: href('pc-link'), mobile: href('mobile-link') };
};

/** The state our redirect_uri carried, as WeChat hands it back on the landing page. */
const stateOf = (page: HttpResult) => new URL(hrefs(page).pc.searchParams.get('redirect_uri')!).searchParams.get('state')!;

describe('authorize start page', () => {
  it('refuses a request without a valid link with a 403 page, calling no WeChat API and writing nothing', async () => {
    // Prepare
    const valid = await issue({ tenant: 'acme' });
    const [payload, mac] = valid.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), t: 'evil' })).toString('base64url');
    const expired = signLink(deps.secrets.linkSigningKey, { linkId: newLinkId(), authType: 3, expiresAt: nowS() - 1 });
    const otherKey = signLink('another-key-0123456789abcdefghijklmnopqrstu', { linkId: newLinkId(), authType: 3, expiresAt: nowS() + 60 });
    const state = signState(deps.secrets.linkSigningKey, { linkId: newLinkId(), expiresAt: nowS() + 60 });
    const queries: (Record<string, string> | undefined)[] = [
      undefined,
      { auth_type: '3' },
      { link: '' },
      { link: 'x' },
      { link: `${forged}.${mac}` },
      { link: expired },
      { link: otherKey },
      { link: state },
    ];
    // Act
    const pages = await Promise.all(queries.map((q) => get(START, q)));
    // Assess
    for (const page of pages) {
      assert.equal(page.statusCode, 403);
      assert.equal(page.headers?.['content-type'], 'text/html; charset=utf-8');
      assert.match(String(page.body), /Authorization link not valid/);
    }
    assert.equal(sim.calls(), 0);
    assert.deepEqual(writes, []);
    const reasons = logger
      .records()
      .filter((r) => r.event === 'authorize.page_failed' && r.status === 403)
      .map((r) => r.reason);
    assert.deepEqual(new Set(reasons), new Set(['missing', 'malformed', 'signature', 'expired']));
  });

  it('serves both links for a signed link, on the current mobile host, with HSTS and the Referer policy WeChat needs', async () => {
    // Prepare
    const link = await issue({ tenant: 'acme', authType: 2, bizAppid: 'wxc736b9251b3c6c41' });
    // Act
    const page = await get(START, { link });
    // Assess
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers?.['referrer-policy'], 'origin');
    assert.match(String(page.headers?.['strict-transport-security']), /^max-age=\d{8,}/);
    const { pc, mobile } = hrefs(page);
    assert.equal(`${pc.origin}${pc.pathname}`, 'https://mp.weixin.qq.com/cgi-bin/componentloginpage');
    assert.equal(`${mobile.origin}${mobile.pathname}`, 'https://open.weixin.qq.com/wxaopen/safe/bindcomponent');
    assert.equal(mobile.hash, '#wechat_redirect');
    for (const url of [pc, mobile]) {
      assert.equal(url.searchParams.get('auth_type'), '2');
      assert.equal(url.searchParams.get('biz_appid'), 'wxc736b9251b3c6c41');
      assert.match(url.searchParams.get('pre_auth_code')!, /^preauthcode@@@/);
      assert.match(url.searchParams.get('redirect_uri')!, new RegExp(`^${BASE}${LANDING}\\?state=[\\w-]+\\.[\\w-]+$`));
    }
    assert.equal(sim.calls('api_create_preauthcode'), 1);
  });

  it('reuses the link pre_auth_code on reloads: 10 views, 1 api_create_preauthcode', async () => {
    // Prepare
    const link = await issue();
    // Act
    const pages = [];
    for (let i = 0; i < 10; i += 1) pages.push(await get(START, { link }));
    // Assess
    assert.ok(pages.every((p) => p.statusCode === 200));
    assert.equal(new Set(pages.map((p) => hrefs(p).pc.searchParams.get('pre_auth_code'))).size, 1);
    assert.equal(sim.calls('api_create_preauthcode'), 1);
  });

  it("counts WeChat's 45009 on the pages and says authorizations are paused", async () => {
    // Prepare
    const link = await issue();
    sim.inject({ api: 'api_create_preauthcode', errcode: 45009, times: 1 });
    // Act
    const page = await get(START, { link });
    // Assess
    assert.equal(page.statusCode, 503);
    assert.match(String(page.body), /Authorizations paused for today/);
    assert.equal(metrics.sum('AuthorizationPageQuotaExhausted'), 1);
    const [document] = metrics.documents() as [{ Api?: string; _aws: { CloudWatchMetrics: { Dimensions: string[][] }[] } }];
    assert.equal(document.Api, 'component/api_create_preauthcode');
    assert.deepEqual(document._aws.CloudWatchMetrics[0]?.Dimensions, [['Api'], []], 'per API and rolled up (the alarm watches the roll-up)');
  });
});

describe('authorize landing page', () => {
  it('calls nobody and writes nothing without a valid state, and says the push completes the authorization', async () => {
    // Prepare
    const expired = signState(deps.secrets.linkSigningKey, { linkId: newLinkId(), expiresAt: nowS() - 1 });
    const link = await issue();
    writes = [];
    const queries: Record<string, string>[] = [
      { auth_code: 'queryauthcode@@@random-1', expires_in: '3600' },
      { auth_code: 'queryauthcode@@@random-2', state: 'forged.state' },
      { auth_code: 'queryauthcode@@@random-3', state: expired },
      { auth_code: 'queryauthcode@@@random-4', state: link },
      {},
    ];
    // Act
    const pages = await Promise.all(queries.map((q) => get(LANDING, q)));
    // Assess
    for (const page of pages) {
      assert.equal(page.statusCode, 200);
      assert.match(String(page.body), /Authorization received/);
      assert.ok(!String(page.body).includes('random'));
    }
    assert.equal(sim.calls(), 0);
    assert.deepEqual(writes, []);
  });

  it('completes the authorization for a valid state and stores the tenant on the profile', async () => {
    // Prepare
    const start = await get(START, { link: await issue({ tenant: 'acme' }) });
    const { authorizationCode, authorizerAppid } = await sim.authorize({ push: false, nickName: 'Tenant <Acme> Co' });
    // Act
    const page = await get(LANDING, { state: stateOf(start), auth_code: authorizationCode, expires_in: '3600' });
    // Assess
    assert.equal(page.statusCode, 200);
    assert.match(String(page.body), /Tenant &lt;Acme&gt; Co/);
    assert.ok(!String(page.body).includes(authorizationCode));
    const profile = await getAuthorizer(deps, authorizerAppid);
    assert.equal(profile?.status, 'authorized');
    assert.equal(profile?.tenant, 'acme');
    assert.equal(sim.calls('api_query_auth'), 1);
  });

  it('answers a valid state without a code, or with a refused one, with a 400 page that never echoes the code', async () => {
    // Prepare
    const state = stateOf(await get(START, { link: await issue() }));
    // Act
    const missing = await get(LANDING, { state });
    const refused = await get(LANDING, { state, auth_code: 'queryauthcode@@@<b>refused</b>', expires_in: '3600' });
    // Assess
    assert.equal(missing.statusCode, 400);
    assert.match(String(missing.body), /auth_code is missing/);
    assert.equal(refused.statusCode, 400);
    assert.match(String(refused.body), /Authorization code invalid/);
    assert.ok(!String(refused.body).includes('refused</b>') && !String(refused.body).includes('&lt;b&gt;refused'));
  });

  it('never lets a reloaded old landing URL overwrite a newer authorization with its older refresh token', async () => {
    // Prepare: code 1 was exchanged two minutes ago but its landing page failed before storing it; the owner
    // then authorized again (code 2), which landed.
    const state = stateOf(await get(START, { link: await issue() }));
    const first = await sim.authorize({ push: false });
    const twoMinutesAgo = { ...deps, clock: () => Date.now() - 120_000 };
    const old = await exchangeCodeOnce(twoMinutesAgo, first.authorizationCode, { codeExpiresAt: nowS() + 3600, waitMs: 0 });
    const second = await sim.reauthorize(first.authorizerAppid, { push: false });
    const landed = await get(LANDING, { state, auth_code: second.authorizationCode, expires_in: '3600' });
    const current = (await getAuthorizer(deps, first.authorizerAppid))?.refreshToken;
    const aMinuteLater = { ...deps, clock: () => Date.now() + 60_000 };
    // Act: the owner reloads the first landing URL.
    const reloaded = await createHandler(
      aMinuteLater,
      metrics,
    )({
      rawPath: LANDING,
      queryStringParameters: { state, auth_code: first.authorizationCode, expires_in: '3600' },
    } as unknown as HttpEvent);
    // Assess
    assert.equal(landed.statusCode, 200);
    assert.equal(reloaded.statusCode, 200);
    assert.notEqual(old.authorization.authorizerRefreshToken, current);
    const profile = await getAuthorizer(deps, first.authorizerAppid);
    assert.equal(profile?.refreshToken, current);
    assert.equal(profile?.refreshToken, sim.accounts().find((a) => a.appid === first.authorizerAppid)?.refreshToken);
  });
});
