// `npx sls invoke local -f <name> --path tests/events/<name>.json` for the functions that call WeChat (and the
// events delivery, against a local bus), as
// README tells a newcomer to run them (ticket, message and refresh have their own files): against DynamoDB
// Local and the WeChat simulator, with a ticket stored as the simulator pushed it.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SIMULATOR_COMPONENT } from '../../infra/local/credentials.ts';
import { ensureTable, localClient } from '../../infra/local/dynamodb.ts';
import { startSimulator, type Simulator } from '../../infra/local/simulator/index.ts';
import { saveVerifyTicket } from '../../lib/store/tickets.ts';
import { useDynamoEndpoint, type DynamoEndpoint } from '../helpers/dynamo.ts';
import { invokeLocal, localInvokeEnv } from '../helpers/sls.ts';
import { signedStartQuery } from '../helpers/links.ts';
import { startEventBus } from '../../infra/local/event-bus.ts';

// A stage of its own: serverless computes the table name wechat-component-<stage>.
const STAGE = 'e2einvoke';
const TABLE = `wechat-component-${STAGE}`;

describe('sls invoke local with the sample events', () => {
  let dynamo: DynamoEndpoint | undefined;
  let sim: Simulator;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    dynamo = await useDynamoEndpoint();
    const endpoint = dynamo.endpoint;
    await ensureTable(endpoint, TABLE);
    sim = await startSimulator({ port: 0 });
    await sim.pushTicket();
    const client = localClient(endpoint);
    const doc = DynamoDBDocumentClient.from(client);
    const createTime = Math.floor(Date.now() / 1000);
    await saveVerifyTicket(
      { doc, tableName: TABLE, clock: Date.now },
      { componentAppId: SIMULATOR_COMPONENT.appId, ticket: sim.latestTicket()!, createTime },
    );
    client.destroy();
    env = localInvokeEnv({ WECHAT_API_BASE_URL: sim.url, DYNAMODB_ENDPOINT: endpoint, PUBLIC_BASE_URL: 'https://platform.example.com' });
  });
  after(async () => {
    await sim?.stop();
    await dynamo?.stop();
  });

  it('token: {} answers the component token obtained with the stored ticket', async () => {
    // Act
    const { code, output } = await invokeLocal('token', ['--stage', STAGE, '--path', 'tests/events/token.json'], env);
    // Assess
    assert.equal(code, 0, output);
    assert.match(output, /"accessToken": "[^"]{16,}"/);
    assert.match(output, /"expiresAt": \d{10}/);
    assert.equal(sim.calls('api_component_token'), 1);
  });

  it('authorize: refuses the sample start page request (it carries no signed link) without calling WeChat', async () => {
    // Act
    const { code, output } = await invokeLocal('authorize', ['--stage', STAGE, '--path', 'tests/events/authorize.json'], env);
    // Assess
    assert.equal(code, 0, output);
    assert.match(output, /"statusCode": 403/);
    assert.match(output, /Authorization link not valid/);
    assert.equal(sim.calls('api_create_preauthcode'), 0);
  });

  it('authorize: renders both authorization links for a signed link, from a fresh pre_auth_code', async () => {
    // Prepare
    const sample = JSON.parse(readFileSync('tests/events/authorize.json', 'utf8')) as { queryStringParameters: Record<string, string> };
    const link = new URLSearchParams(signedStartQuery()).get('link')!;
    const file = join(mkdtempSync(join(tmpdir(), 'authorize-event-')), 'authorize.json');
    writeFileSync(file, JSON.stringify({ ...sample, rawQueryString: `link=${link}`, queryStringParameters: { link } }));
    // Act
    const { code, output } = await invokeLocal('authorize', ['--stage', STAGE, '--path', file], env);
    // Assess
    assert.equal(code, 0, output);
    assert.match(output, /"statusCode": 200/);
    assert.match(output, /componentloginpage\?component_appid=wx5ce1ab0c0ffee000/);
    assert.match(output, /wxaopen\/safe\/bindcomponent\?action=bindcomponent/);
    assert.match(output, /redirect_uri=https%3A%2F%2Fplatform\.example\.com%2Fwechat%2Fcomponent%2Fauthorized%3Fstate%3D/);
    assert.equal(sim.calls('api_create_preauthcode'), 1);
  });

  it('authorized: drops the sample record (its code expired, the account is unknown to WeChat) without asking for a retry', async () => {
    // Act
    const { code, output } = await invokeLocal('authorized', ['--stage', STAGE, '--path', 'tests/events/authorized.json'], env);
    // Assess
    assert.equal(code, 0, output);
    assert.match(output, /"batchItemFailures": \[\]/);
    assert.match(output, /"event":"event\.dropped".*"name":"PermanentEventError"/);
    assert.equal(sim.calls('api_get_authorizer_info'), 1);
  });

  it('events: puts the sample outbox record on the bus AWS_ENDPOINT_URL_EVENTBRIDGE names, and reports nothing failed', async () => {
    // Prepare: a local bus standing in for the stage's own (serverless.yml: wechat-component-<stage>).
    const dir = mkdtempSync(join(tmpdir(), 'invoke-events-'));
    const bus = await startEventBus({ busNames: [`wechat-component-${STAGE}`], file: join(dir, 'events.jsonl') });
    // Act
    const { code, output } = await invokeLocal('events', ['--stage', STAGE, '--path', 'tests/events/events.json'], {
      ...env,
      AWS_ENDPOINT_URL_EVENTBRIDGE: bus.url,
    });
    await bus.stop();
    // Assess
    assert.equal(code, 0, output);
    assert.match(output, /"batchItemFailures": \[\]/);
    const [line] = readFileSync(join(dir, 'events.jsonl'), 'utf8').split('\n');
    assert.deepEqual(JSON.parse(line ?? '{}').Detail, {
      eventId: '3f7b0a1c9e2d4b8f8a6c5d4e3f2a1b0c',
      componentAppId: 'wx5ce1ab0c0ffee000',
      occurredAt: '2025-06-01T08:30:00.000Z',
      authorizerAppid: 'wx8f2e1d0c9b8a7f6e',
      tenant: 't1',
      funcInfo: [1, 2, 4, 15],
    });
  });
});
