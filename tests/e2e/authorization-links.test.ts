// Signed authorization links against `npm start` (serverless-offline, DynamoDB Local, the WeChat simulator), as an
// operator and an abuser would use them: the pages cost nothing without a link or state, `npm run admin` prints a
// link, the link's reloads share one pre_auth_code, and a landing with the state it put in redirect_uri stores
// the tenant on the profile.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { freePort, localClient } from '../../infra/local/dynamodb.ts';
import { LOCAL_TABLE } from '../../infra/local/offline.ts';
import { newLinkId, signLink } from '../../lib/authorization/links.ts';
import { authorizerKey } from '../../lib/store/keys.ts';
import { startProc, type Proc } from '../helpers/proc.ts';

const run = promisify(execFile);
let proc: Proc;
let base: string;
let sim: string;
let lambdaPort: number;
let doc: DynamoDBDocumentClient;
let envFile: string;
let destroy: () => void;

const simCalls = async (api?: string): Promise<number> => {
  const body = (await (await fetch(`${sim}/__sim/calls${api ? `?api=${api}` : ''}`)).json()) as { total?: number; count?: number };
  return api ? (body.count ?? -1) : (body.total ?? -1);
};
const resetCalls = () => fetch(`${sim}/__sim/reset-counters`, { method: 'POST' });
const table = async () => JSON.stringify((await doc.send(new ScanCommand({ TableName: LOCAL_TABLE, ConsistentRead: true }))).Items ?? []);
const page = async (url: string) => {
  const response = await fetch(url, { redirect: 'manual' });
  return { status: response.status, body: await response.text(), hsts: response.headers.get('strict-transport-security') };
};
const admin = async (...args: string[]) =>
  run(process.execPath, ['scripts/admin.ts', ...args], { env: { ...process.env, OFFLINE_LAMBDA_PORT: String(lambdaPort) }, timeout: 60_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
  );
/** Runs `work` over `items`, `width` at a time (serverless-offline on a shared 2-core box). */
const inBatches = async <T, R>(items: T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> => {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map(work))));
  return out;
};
const href = (body: string, id: string) => new URL((new RegExp(`id="${id}" href="([^"]+)"`).exec(body)?.[1] ?? '').replaceAll('&amp;', '&'));

before(
  async () => {
    const [port, dynamoPort, simPort, lambda] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    lambdaPort = lambda;
    envFile = join(tmpdir(), `wechat-component-links-env-${process.pid}`);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(port),
      DYNAMODB_PORT: String(dynamoPort),
      SIMULATOR_PORT: String(simPort),
      OFFLINE_LAMBDA_PORT: String(lambda),
      LOCAL_ENV_FILE: envFile,
      SIMULATED_MINI_PROGRAMS: '0',
    };
    for (const k of ['DYNAMODB_ENDPOINT', 'WECHAT_API_BASE_URL', 'PUBLIC_BASE_URL', 'LINK_SIGNING_KEY', 'COMPONENT_APPID', 'COMPONENT_APPSECRET'])
      delete env[k];
    for (const k of ['COMPONENT_TOKEN', 'COMPONENT_ENCODING_AES_KEY']) delete env[k];
    proc = startProc(process.execPath, ['infra/local/start.ts'], env);
    await proc.waitFor(/\[start\] ready in/, 120_000);
    await proc.waitFor(/verify_ticket\.saved/, 30_000);
    base = `http://127.0.0.1:${port}`;
    sim = `http://127.0.0.1:${simPort}`;
    const client = localClient(`http://127.0.0.1:${dynamoPort}`);
    doc = DynamoDBDocumentClient.from(client);
    destroy = () => client.destroy();
  },
  { timeout: 180_000 },
);
after(async () => {
  destroy?.();
  await proc?.stop();
  rmSync(envFile, { force: true });
});

describe('authorization links against npm start', () => {
  it('costs nothing without a link or a state: 100 start pages, 100 landings with random codes, 0 WeChat calls, 0 writes', async () => {
    // Prepare
    const before = await table();
    await resetCalls();
    const starts = Array.from({ length: 100 }, (_, i) => `${base}/wechat/component/authorize${i % 2 ? `?auth_type=${i % 3}` : ''}`);
    const landings = Array.from(
      { length: 100 },
      () => `${base}/wechat/component/authorized?auth_code=queryauthcode@@@${randomBytes(12).toString('hex')}&expires_in=3600`,
    );
    // Act
    const startPages = await inBatches(starts, 5, page);
    const landingPages = await inBatches(landings, 5, page);
    // Assess
    assert.deepEqual(new Set(startPages.map((p) => p.status)), new Set([403]));
    assert.deepEqual(new Set(landingPages.map((p) => p.status)), new Set([200]));
    assert.ok(landingPages.every((p) => p.body.includes('Authorization received')));
    assert.equal(await simCalls(), 0);
    assert.equal(await table(), before);
  });

  it('npm run admin prints a signed link (exit 0) and an unknown action is an error (exit 1)', async () => {
    // Act
    const issued = await admin('authorizationLink', '--tenant', 'acme', '--ttlSeconds', '3600');
    const unknown = await admin('noSuchAction');
    // Assess
    assert.equal(issued.code, 0, issued.stdout);
    const { url, expiresAt } = JSON.parse(issued.stdout) as { url: string; expiresAt: number };
    assert.match(url, new RegExp(`^${base}/wechat/component/authorize\\?link=[\\w-]+\\.[\\w-]+$`));
    assert.ok(expiresAt > Date.now() / 1000 + 3500);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stdout, /"unknown_action"[\s\S]*authorizationLink/);
  });

  it('serves both links for a signed link, 10 reloads costing 1 api_create_preauthcode; expired or tampered links get 403', async () => {
    // Prepare
    const { url } = JSON.parse((await admin('authorizationLink', '--tenant', 'acme')).stdout) as { url: string };
    await resetCalls();
    const key = /^LINK_SIGNING_KEY=(.+)$/m.exec(readFileSync(envFile, 'utf8'))?.[1] ?? '';
    const expired = `${base}/wechat/component/authorize?link=${signLink(key, { linkId: newLinkId(), authType: 3, expiresAt: Math.floor(Date.now() / 1000) - 1 })}`;
    const tampered = url.replace(/.(?=\.[\w-]+$)/, (c) => (c === 'A' ? 'B' : 'A'));
    // Act
    const first = await page(url);
    const reloads = await inBatches(
      Array.from({ length: 10 }, () => url),
      1,
      page,
    );
    const refused = [await page(expired), await page(tampered)];
    // Assess
    assert.equal(first.status, 200);
    assert.match(first.hsts ?? '', /max-age=/);
    assert.equal(href(first.body, 'pc-link').host, 'mp.weixin.qq.com');
    assert.equal(href(first.body, 'mobile-link').host, 'open.weixin.qq.com');
    assert.ok(reloads.every((p) => p.status === 200));
    const codes = new Set([first, ...reloads].map((p) => href(p.body, 'pc-link').searchParams.get('pre_auth_code')));
    assert.equal(codes.size, 1);
    assert.equal(await simCalls('api_create_preauthcode'), 1);
    assert.deepEqual(
      refused.map((p) => p.status),
      [403, 403],
    );
  });

  it("completes a landing with the link's state and stores the tenant on the profile", async () => {
    // Prepare: the owner opens the link, authorizes at "WeChat" (no push), and WeChat redirects to our redirect_uri.
    const { url } = JSON.parse((await admin('authorizationLink', '--tenant', 'globex')).stdout) as { url: string };
    const start = await page(url);
    const redirect = href(start.body, 'pc-link').searchParams.get('redirect_uri')!;
    const authorized = (await (await fetch(`${sim}/__sim/authorize`, { method: 'POST', body: JSON.stringify({ push: false }) })).json()) as {
      authorizerAppid: string;
      authorizationCode: string;
    };
    // Act
    const landing = await page(`${redirect}&auth_code=${encodeURIComponent(authorized.authorizationCode)}&expires_in=3600`);
    // Assess
    assert.equal(landing.status, 200, landing.body.slice(0, 400));
    assert.match(landing.body, /Authorization complete/);
    const { Item } = await doc.send(
      new GetCommand({ TableName: LOCAL_TABLE, Key: authorizerKey(authorized.authorizerAppid, 'PROFILE'), ConsistentRead: true }),
    );
    assert.equal(Item?.status, 'authorized');
    assert.equal(Item?.tenant, 'globex');
  });
});
