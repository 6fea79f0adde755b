// The start page in a real browser (Debian's headless Chromium): both authorization links carry the right
// parameters once the browser has parsed the page. Skipped where /usr/bin/chromium is absent (CI machines).
// AUTHORIZE_SCREENSHOT=docs/screenshots/authorize-start.png also writes the screenshot.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { createHandler } from '../../functions/authorize/handler.ts';
import { simulatorEnv, SIMULATOR_COMPONENT } from '../../infra/local/credentials.ts';
import { startSimulator, type Simulator } from '../../infra/local/simulator/index.ts';
import { loadConfig } from '../../lib/runtime/config.ts';
import { createWeChatDeps } from '../../lib/runtime/wechat-deps.ts';
import { createMemoryLogger } from '../../lib/kernel/logger.ts';
import { saveVerifyTicket } from '../../lib/store/tickets.ts';
import { createTestTable, type TestTable } from '../helpers/dynamo.ts';
import { startPlatformServer, type PlatformServer, type Route } from '../helpers/platform-server.ts';
import { signedStartQuery } from '../helpers/links.ts';
import { TEST_LINK_SIGNING_KEY } from '../helpers/sls.ts';

const CHROMIUM = '/usr/bin/chromium';
const run = promisify(execFile);
const BIZ_APPID = 'wxc736b9251b3c6c41';

const chromium = async (args: string[]) => {
  const profile = mkdtempSync(join(tmpdir(), 'chromium-'));
  try {
    const flags = [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
    ];
    return (await run(CHROMIUM, [...flags, ...args], { timeout: 60_000, maxBuffer: 4 * 1024 * 1024 })).stdout;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
};

const decode = (href: string) => href.replaceAll('&amp;', '&');

describe('authorize start page in headless Chromium', { skip: !existsSync(CHROMIUM) && 'no /usr/bin/chromium' }, () => {
  let table: TestTable;
  let sim: Simulator;
  let server: PlatformServer;
  let route: Route = async () => ({ statusCode: 503 });

  before(async () => {
    table = await createTestTable();
    sim = await startSimulator({ autoPush: false, ticketIntervalMs: 0 });
    server = await startPlatformServer({
      'GET /wechat/component/authorize': (e, c) => route(e, c),
      'GET /wechat/component/authorized': (e, c) => route(e, c),
    });
    const config = loadConfig({
      ...simulatorEnv(),
      TABLE_NAME: table.tableName,
      WECHAT_API_BASE_URL: sim.url,
      DYNAMODB_ENDPOINT: table.endpoint,
      PUBLIC_BASE_URL: server.url,
      LINK_SIGNING_KEY: TEST_LINK_SIGNING_KEY,
    });
    const deps = createWeChatDeps(config, config.secrets!, { doc: table.doc, logger: createMemoryLogger() });
    await sim.pushTicket();
    await saveVerifyTicket(deps, {
      componentAppId: SIMULATOR_COMPONENT.appId,
      ticket: sim.latestTicket()!,
      createTime: Math.floor(Date.now() / 1000),
    });
    const handler = createHandler(deps);
    route = (event) => handler(event);
  });
  after(async () => {
    await server?.close();
    await sim?.stop();
    await table?.close();
  });

  it('renders both links with component_appid, a fresh pre_auth_code, the encoded redirect_uri, auth_type and biz_appid', async () => {
    // Prepare
    const url = `${server.url}/wechat/component/authorize${signedStartQuery({ authType: 1, bizAppid: BIZ_APPID })}`;
    // Act
    const dom = await chromium(['--dump-dom', url]);
    // Assess
    const pc = new URL(decode(/id="pc-link" href="([^"]+)"/.exec(dom)![1]!));
    const mobile = new URL(decode(/id="mobile-link" href="([^"]+)"/.exec(dom)![1]!));
    assert.equal(`${pc.origin}${pc.pathname}`, 'https://mp.weixin.qq.com/cgi-bin/componentloginpage');
    assert.equal(`${mobile.origin}${mobile.pathname}`, 'https://open.weixin.qq.com/wxaopen/safe/bindcomponent');
    assert.equal(mobile.hash, '#wechat_redirect');
    assert.equal(mobile.searchParams.get('action'), 'bindcomponent');
    assert.equal(mobile.searchParams.get('no_scan'), '1');
    for (const link of [pc, mobile]) {
      assert.equal(link.searchParams.get('component_appid'), SIMULATOR_COMPONENT.appId);
      assert.match(link.searchParams.get('pre_auth_code')!, /^preauthcode@@@/);
      assert.match(link.searchParams.get('redirect_uri')!, new RegExp(`^${server.url}/wechat/component/authorized\\?state=`));
      assert.equal(link.searchParams.get('auth_type'), '1');
      assert.equal(link.searchParams.get('biz_appid'), BIZ_APPID);
    }
    assert.equal(pc.searchParams.get('pre_auth_code'), mobile.searchParams.get('pre_auth_code'));
    assert.match(dom, /<meta name="referrer" content="origin">/);
    assert.equal(sim.calls('api_create_preauthcode'), 1);
  });

  it('takes a screenshot of the start page', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'shot-'));
    const file = process.env.AUTHORIZE_SCREENSHOT ?? join(dir, 'authorize-start.png');
    // Act
    await chromium([`--screenshot=${file}`, '--window-size=1000,700', `${server.url}/wechat/component/authorize${signedStartQuery()}`]);
    // Assess
    assert.ok(statSync(file).size > 10_000, 'the screenshot is suspiciously small');
    rmSync(dir, { recursive: true, force: true });
  });
});
