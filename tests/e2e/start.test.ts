import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../../infra/local/dynamodb.ts';
import { groupAlive, startProc, type Proc } from '../helpers/proc.ts';

describe('npm start', () => {
  let proc: Proc | undefined;
  after(async () => {
    await proc?.stop();
  });

  it('serves the routes, receives the first ticket push, and stops everything on SIGINT', async () => {
    // Prepare
    const [port, dynamoPort, simPort, lambdaPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(port),
      DYNAMODB_PORT: String(dynamoPort),
      SIMULATOR_PORT: String(simPort),
      OFFLINE_LAMBDA_PORT: String(lambdaPort),
      LOCAL_ENV_FILE: join(tmpdir(), `wechat-component-env-${process.pid}`),
    };
    delete env.DYNAMODB_ENDPOINT;
    delete env.WECHAT_API_BASE_URL;
    delete env.PUBLIC_BASE_URL;
    for (const k of ['COMPONENT_APPID', 'COMPONENT_APPSECRET', 'COMPONENT_TOKEN', 'COMPONENT_ENCODING_AES_KEY']) delete env[k];
    // Act
    proc = startProc(process.execPath, ['infra/local/start.ts'], env);
    await proc.waitFor(/\[start\] ready in/, 90_000);
    await proc.waitFor(/verify_ticket\.saved/, 30_000);
    const rejected = await fetch(`http://127.0.0.1:${port}/wechat/component/events?timestamp=1&nonce=2&msg_signature=x`, {
      method: 'POST',
      body: '<xml/>',
    });
    const pgid = proc.child.pid!;
    const code = await proc.stop();
    // Assess
    assert.match(readFileSync(env.LOCAL_ENV_FILE!, 'utf8'), new RegExp(`^PUBLIC_BASE_URL=http://127.0.0.1:${port}$`, 'm'));
    assert.equal(rejected.status, 400);
    assert.equal(await rejected.text(), 'invalid request');
    assert.ok(proc.output.some((l) => l.includes(`POST http://127.0.0.1:${port}/wechat/component/events`)));
    assert.equal(code, 0);
    assert.ok(proc.output.some((l) => l.includes('[start] stopped')));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(groupAlive(pgid), false, 'a process of npm start is still running');
    for (const p of [port, dynamoPort, simPort, lambdaPort]) {
      await assert.rejects(fetch(`http://127.0.0.1:${p}/`, { signal: AbortSignal.timeout(1000) }), `port ${p} still answers`);
    }
    const secrets = ['local-simulator-app-secret-0123456789', 'LocalSimulatorEncodingAesKey0123456789abcde'];
    assert.ok(!proc.output.some((l) => secrets.some((s) => l.includes(s)) || /ticket@@@[A-Za-z0-9_-]/.test(l)), 'a secret reached the log');
  });
});
