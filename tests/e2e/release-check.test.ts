// WeChat's full-network release test (全网发布) against the real `npm start`: serverless-offline serving the
// functions, DynamoDB Local with its stream feeding `authorized`, and the WeChat simulator. Every case for
// each of the ten test accounts, then the `npm run release-check` CLI once.
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SIMULATOR_COMPONENT } from '../../infra/local/credentials.ts';
import { freePort } from '../../infra/local/dynamodb.ts';
import { runReleaseCheck, TEST_ACCOUNTS } from '../../infra/local/simulator/release-check.ts';
import { startProc, type Proc } from '../helpers/proc.ts';
import { sealMessage, textXml } from '../helpers/wechat-message.ts';

// WeChat allows 5 s per answer; the bench measures that budget. Here a loaded CI machine (JVM, esbuild,
// serverless-offline workers cold-starting) gets more, so a slow machine does not fail a correct platform.
const REPLY_LIMIT_MS = 15_000;
const CASES = ['组件ticket正确接收', '授权', '返回普通文本消息', '返回Api文本消息', '发送事件消息', '取消授权'];
let proc: Proc | undefined;
let platformUrl = '';
let simulatorUrl = '';

before(async () => {
  const [port, dynamoPort, simPort, lambdaPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    DYNAMODB_PORT: String(dynamoPort),
    SIMULATOR_PORT: String(simPort),
    OFFLINE_LAMBDA_PORT: String(lambdaPort),
    LOCAL_ENV_FILE: join(tmpdir(), `wechat-component-env-${process.pid}`),
    SIMULATED_MINI_PROGRAMS: '0',
  };
  for (const k of [
    'DYNAMODB_ENDPOINT',
    'WECHAT_API_BASE_URL',
    'PUBLIC_BASE_URL',
    'COMPONENT_APPID',
    'COMPONENT_APPSECRET',
    'COMPONENT_TOKEN',
    'COMPONENT_ENCODING_AES_KEY',
  ])
    delete env[k];
  proc = startProc(process.execPath, ['infra/local/start.ts'], env);
  await proc.waitFor(/\[start\] ready in/, 120_000);
  platformUrl = `http://127.0.0.1:${port}`;
  simulatorUrl = `http://127.0.0.1:${simPort}`;
  // Warm-up, so serverless-offline's first worker start on a busy machine is not counted against a case:
  // npm start's own first ticket push (the ticket function), and one refused message (the message function).
  await proc.waitFor(/verify_ticket\.saved/, 60_000);
  const warm = await fetch(`${platformUrl}/wechat/authorizers/wx0000000000000abc/callback`, { method: 'POST', body: '<xml/>' });
  assert.equal(warm.status, 400);
});
after(async () => {
  await proc?.stop();
});

describe('release check against npm start', () => {
  for (const [appid, userName] of TEST_ACCOUNTS) {
    it(`passes every case for ${appid} with the exact replies and customer-service text`, async () => {
      // Act
      const report = await runReleaseCheck({
        platformUrl,
        simulatorUrl,
        component: SIMULATOR_COMPONENT,
        authorizerAppid: appid,
        replyLimitMs: REPLY_LIMIT_MS,
      });
      // Assess
      assert.equal(report.userName, userName);
      assert.deepEqual(
        report.cases.map((c) => c.label),
        CASES,
      );
      for (const c of report.cases) assert.ok(c.pass, `[${c.label}] ${c.detail}`);
      const byLabel = new Map(report.cases.map((c) => [c.label, c]));
      assert.equal(byLabel.get('返回普通文本消息')?.observed, 'TESTCOMPONENT_MSG_TYPE_TEXT_callback');
      assert.match(byLabel.get('返回Api文本消息')?.observed ?? '', /^queryauthcode@@@[A-Za-z0-9_-]+_from_api$/);
      assert.equal(byLabel.get('发送事件消息')?.observed, 'LOCATIONfrom_callback');
    });
  }

  it('hands a message of an authorized account to the registry once however often WeChat retries it, and answers unknown accounts too', async () => {
    // Prepare: a simulated account (original id gh_0123456789ab, the messages' ToUserName) authorizes; the platform
    // completes the authorization from the stream.
    const body = JSON.stringify({ userName: 'gh_0123456789ab' });
    const sim = await fetch(`${simulatorUrl}/__sim/authorize`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    const { authorizerAppid } = (await sim.json()) as { authorizerAppid: string };
    await proc!.waitFor(new RegExp(`authorization\\.completed.*${authorizerAppid}`), 30_000);
    const now = Math.floor(Date.now() / 1000);
    const msgId = '22449548215715819';
    const inner = textXml({ toUser: 'gh_0123456789ab', fromUser: 'oUserE2E', createTime: now, content: 'hello', msgId });
    const post = async (appid: string) => {
      const r = sealMessage(SIMULATOR_COMPONENT, {
        authorizerAppid: appid,
        toUser: 'gh_0123456789ab',
        openid: 'oUserE2E',
        innerXml: inner,
        timestamp: now,
      });
      const response = await fetch(`${platformUrl}${r.path}?${new URLSearchParams(r.query)}`, { method: 'POST', body: r.body });
      return [response.status, await response.text()];
    };
    // Act
    const deliveries = [await post(authorizerAppid), await post(authorizerAppid), await post(authorizerAppid)];
    const unknown = await post('wx0000000000000abc');
    await proc!.waitFor(new RegExp(`message\\.duplicate.*${authorizerAppid}`), 10_000);
    // Assess
    assert.deepEqual(deliveries, [
      [200, 'success'],
      [200, 'success'],
      [200, 'success'],
    ]);
    // Verified, so answered; the platform asks WeChat about the account through the stream (reconcile request).
    assert.deepEqual(unknown, [200, 'success']);
    await proc!.waitFor(/message\.account_not_authorized.*wx0000000000000abc/, 10_000);
    await proc!.waitFor(/reconcile\.account.*wx0000000000000abc/, 30_000);
    const lines = proc!.output.filter((l) => l.includes(authorizerAppid));
    assert.equal(lines.filter((l) => l.includes('message.unhandled') && l.includes(msgId)).length, 1);
    assert.equal(lines.filter((l) => l.includes('message.duplicate')).length, 2);
  });

  it('npm run release-check prints a pass line per case and exits 0; no code or secret reaches any output', async () => {
    // Act
    const env = { ...process.env };
    for (const k of ['COMPONENT_APPID', 'COMPONENT_TOKEN', 'COMPONENT_ENCODING_AES_KEY']) delete env[k];
    const cli = startProc(process.execPath, ['scripts/release-check.ts', '--platform-url', platformUrl, '--simulator-url', simulatorUrl], env);
    const code = await new Promise<number | null>((resolve) => cli.child.on('exit', (c) => resolve(c)));
    // Assess
    const out = cli.output.join('\n');
    assert.equal(code, 0, out);
    for (const label of CASES) assert.match(out, new RegExp(`\\[${label}\\] 通过 PASS`));
    assert.match(out, /全部通过/);
    const everything = [...cli.output, ...(proc?.output ?? [])];
    assert.ok(!everything.some((l) => /queryauthcode@@@[A-Za-z0-9_-]/.test(l)), 'an authorization code reached the output');
    assert.ok(
      !everything.some((l) => l.includes(SIMULATOR_COMPONENT.encodingAesKey) || l.includes(SIMULATOR_COMPONENT.appSecret)),
      'a secret reached the output',
    );
  });
});
