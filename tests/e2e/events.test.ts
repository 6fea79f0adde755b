// Events and operator actions against `npm start` as a user runs it: serverless-offline, DynamoDB Local and its
// stream pollers, the simulator, the local event bus writing the events file. Signed links come from
// `npm run admin`, tokens through the typed client in a separate process, events are read from the file.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { freePort, localClient } from '../../infra/local/dynamodb.ts';
import type { LineOfEvent } from '../../infra/local/event-bus.ts';
import { LOCAL_TABLE } from '../../infra/local/offline.ts';
import { startProc, type Proc } from '../helpers/proc.ts';

const run = promisify(execFile);
let proc: Proc | undefined;
let dir: string;
let ports: { http: number; dynamo: number; sim: number; lambda: number; bus: number };
let env: NodeJS.ProcessEnv;
const file = () => join(dir, 'events.jsonl');

const events = (): LineOfEvent[] =>
  existsSync(file())
    ? readFileSync(file(), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as LineOfEvent)
    : [];
const ofType = (type: string, appid: string) => events().filter((e) => e.DetailType === type && e.Detail.authorizerAppid === appid);

/** Waits for the events file to hold a line of `type` for `appid` (delivery is asynchronous by design). */
const eventually = async (type: string, appid: string, timeoutMs = 60_000): Promise<LineOfEvent> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [found] = ofType(type, appid);
    if (found) return found;
    if (Date.now() > deadline)
      throw new Error(`no ${type} for ${appid}; file has ${events().length} lines; output:\n${proc?.output.slice(-30).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

const control = async (base: string, path: string, body?: unknown) => {
  const response = await fetch(`${base}${path}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
  return (await response.json()) as Record<string, unknown>;
};
const sim = (path: string, body?: unknown) => control(`http://127.0.0.1:${ports.sim}/__sim`, path, body);
const bus = (path: string, body?: unknown) => control(`http://127.0.0.1:${ports.bus}/__bus`, path, body);

/** A node script of this repository run as its own process; its stdout parsed as JSON. */
const script = async (args: string[]): Promise<Record<string, unknown>> => {
  const { stdout } = await run(process.execPath, args, { env, timeout: 60_000 }).catch((e: { stdout?: string; stderr?: string }) => {
    if (e.stdout) return { stdout: e.stdout };
    throw new Error(`${args.join(' ')} failed: ${e.stderr}`);
  });
  return JSON.parse(stdout) as Record<string, unknown>;
};
const client = (...args: string[]) => script(['tests/e2e/client-process.ts', String(ports.lambda), ...args]);
const admin = (...args: string[]) => script(['scripts/admin.ts', ...args]);

before(
  async () => {
    dir = mkdtempSync(join(tmpdir(), 'events-e2e-'));
    const [http, dynamo, simPort, lambda, busPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    ports = { http, dynamo, sim: simPort, lambda, bus: busPort };
    env = {
      ...process.env,
      PORT: String(http),
      DYNAMODB_PORT: String(dynamo),
      SIMULATOR_PORT: String(simPort),
      OFFLINE_LAMBDA_PORT: String(lambda),
      EVENT_BUS_PORT: String(busPort),
      LOCAL_ENV_FILE: join(dir, 'env'),
      SIMULATED_MINI_PROGRAMS: '0',
      LOCAL_EVENTS_FILE: file(),
      ACCOUNT_MESSAGE_EVENTS: 'text',
    };
    for (const k of ['DYNAMODB_ENDPOINT', 'WECHAT_API_BASE_URL', 'PUBLIC_BASE_URL', 'LINK_SIGNING_KEY']) delete env[k];
    for (const k of ['COMPONENT_APPID', 'COMPONENT_APPSECRET', 'COMPONENT_TOKEN', 'COMPONENT_ENCODING_AES_KEY']) delete env[k];
    proc = startProc(process.execPath, ['infra/local/start.ts'], env);
    await proc.waitFor(/\[start\] ready in/, 150_000);
    await proc.waitFor(/verify_ticket\.saved/, 60_000);
  },
  { timeout: 240_000 },
);
after(async () => {
  await proc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('events and operator actions against npm start', { timeout: 600_000 }, () => {
  let linked = '';

  it('announces an authorization through a signed link with tenant t1 once, though WeChat pushes it three times', async () => {
    // Prepare: the operator's link, opened by the owner (the start page's pre_auth_code is the one WeChat sees).
    const { url } = (await admin('authorizationLink', '--tenant', 't1')) as { url: string };
    const page = await (await fetch(url)).text();
    const pc = new URL((/id="pc-link" href="([^"]+)"/.exec(page)?.[1] ?? '').replaceAll('&amp;', '&'));
    const redirect = pc.searchParams.get('redirect_uri') ?? '';
    // Act: the owner authorizes; WeChat pushes thrice and the browser lands on the redirect.
    const granted = (await sim('/authorize', { deliveries: 3 })) as { authorizerAppid: string; authorizationCode: string };
    linked = granted.authorizerAppid;
    const landing = await fetch(`${redirect}&auth_code=${encodeURIComponent(granted.authorizationCode)}&expires_in=3600`);
    const authorized = await eventually('Authorizer Authorized', linked);
    // Assess
    assert.equal(landing.status, 200);
    assert.equal(authorized.Source, 'wechat.component');
    assert.equal(authorized.Detail.tenant, 't1');
    assert.match(String(authorized.Detail.eventId), /^[0-9a-f]{32}$/);
  });

  it('announces the revocation with the tenant, after which the authorization has still been announced exactly once', async () => {
    // Act
    await sim('/unauthorize', { authorizerAppid: linked });
    const unauthorized = await eventually('Authorizer Unauthorized', linked);
    // Assess: both events are of one account, so in one stream order; no second Authorized came before this one.
    assert.equal(unauthorized.Detail.tenant, 't1');
    assert.equal(unauthorized.Detail.detectedBy, 'push');
    assert.equal(ofType('Authorizer Authorized', linked).length, 1);
  });

  it('announces needs_reauth when a 61023 chain cannot recover, and the typed client in another process sees needs_reauth', async () => {
    // Prepare: an account whose stored token is gone and whose refresh token WeChat now rejects.
    const { authorizerAppid } = (await sim('/authorize', {})) as { authorizerAppid: string };
    await eventually('Authorizer Authorized', authorizerAppid);
    const dynamo = localClient(`http://127.0.0.1:${ports.dynamo}`);
    await dynamo.send(
      new DeleteItemCommand({ TableName: LOCAL_TABLE, Key: { pk: { S: `AUTHORIZER#${authorizerAppid}` }, sk: { S: 'ACCESS_TOKEN' } } }),
    );
    dynamo.destroy();
    await sim('/inject', { api: 'api_authorizer_token', errcode: 61023, times: 3 });
    // Act
    const answer = (await client('authorizer', authorizerAppid)) as { error?: { name: string; type: string } };
    const event = await eventually('Authorizer Needs Reauthorization', authorizerAppid);
    // Assess
    assert.deepEqual(answer.error && [answer.error.name, answer.error.type], ['AccountNeedsReauthError', 'needs_reauth']);
    assert.equal(event.Detail.errcode, 61023);
  });

  it('delivers an event once the stream retries after the bus failed between the state write and delivery', async () => {
    // Prepare: two full rounds of the client's three attempts fail, so the events function reports the batch failed.
    await bus('/fail', { mode: 'unavailable', times: 6 });
    const callsBefore = Number((await bus('/calls')).calls);
    // Act
    const { authorizerAppid } = (await sim('/authorize', {})) as { authorizerAppid: string };
    const authorized = await eventually('Authorizer Authorized', authorizerAppid);
    // Assess
    assert.ok(Number((await bus('/calls')).calls) - callsBefore >= 7, 'the failed attempts, then the delivery');
    assert.ok(proc?.output.some((l) => l.includes('[stream] events: stream: retrying')));
    assert.equal(ofType('Authorizer Authorized', authorizerAppid).length, 1);
    assert.equal(authorized.Detail.tenant, undefined, 'no link, no tenant');
  });

  it('serves the typed client from another process and the operator actions through npm run admin', async () => {
    // Prepare
    const savedBefore = proc?.output.filter((l) => l.includes('verify_ticket.saved')).length ?? 0;
    // Act
    const component = (await client('component')) as { ok?: { accessToken: string; expiresAt: number } };
    const listed = (await client('admin', 'list', '{"limit":50}')) as { ok?: { authorizers: { authorizerAppid: string; tenant?: string }[] } };
    const { stdout } = await run('npm', ['run', '--silent', 'admin', '--', 'startPushTicket'], { env, timeout: 60_000 });
    await proc?.waitFor(/verify_ticket\.saved/, 1);
    for (let i = 0; i < 100 && (proc?.output.filter((l) => l.includes('verify_ticket.saved')).length ?? 0) <= savedBefore; i += 1) {
      await new Promise((r) => setTimeout(r, 100));
    }
    // Assess
    assert.equal(typeof component.ok?.accessToken, 'string');
    assert.ok((component.ok?.expiresAt ?? 0) > Date.now() / 1000);
    assert.equal(listed.ok?.authorizers.find((a) => a.authorizerAppid === linked)?.tenant, 't1');
    assert.equal(JSON.parse(stdout.slice(stdout.indexOf('{'))).started, true);
    assert.ok((proc?.output.filter((l) => l.includes('verify_ticket.saved')).length ?? 0) > savedBefore, 'WeChat pushed a new ticket');
  });

  it('follows the events file in a readable form with npm run events', async () => {
    // Act
    const follower = startProc(process.execPath, ['scripts/events.ts'], env);
    // Stopped whatever happens: a follower left running would keep this test file alive.
    const line = await follower.waitFor(/Authorizer Unauthorized/, 15_000).finally(() => follower.stop());
    // Assess
    assert.ok(line.includes(linked) && line.includes('tenant=t1') && line.includes('detectedBy=push'), line);
  });
});
