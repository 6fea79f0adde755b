// `npx sls invoke local` of the on-behalf calls as a newcomer would try them (docs/on-behalf.md): a mini
// program's user logged in through `login`, and an official account's wx.config from `token`, bundled as
// deployed, against DynamoDB Local and the WeChat simulator.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SIMULATOR_COMPONENT } from '../../infra/local/credentials.ts';
import { ensureTable, localClient } from '../../infra/local/dynamodb.ts';
import { startSimulator, type Simulator } from '../../infra/local/simulator/index.ts';
import { saveAuthorization } from '../../lib/store/grants.ts';
import { saveVerifyTicket } from '../../lib/store/tickets.ts';
import type { StoreDeps } from '../../lib/store/keys.ts';
import { useDynamoEndpoint, type DynamoEndpoint } from '../helpers/dynamo.ts';
import { invokeLocal, localInvokeEnv } from '../helpers/sls.ts';

const STAGE = 'e2elogin';
const TABLE = `wechat-component-${STAGE}`;
const nowS = () => Math.floor(Date.now() / 1000);

/** The JSON object sls prints last. */
const lastJson = (output: string): Record<string, unknown> => {
  const start = output.lastIndexOf('\n{');
  return JSON.parse(output.slice(start + 1)) as Record<string, unknown>;
};

describe('sls invoke local, on behalf of the accounts', () => {
  let dynamo: DynamoEndpoint | undefined;
  let sim: Simulator;
  let env: NodeJS.ProcessEnv;
  let miniProgram: string;
  let officialAccount: string;

  before(async () => {
    dynamo = await useDynamoEndpoint();
    await ensureTable(dynamo.endpoint, TABLE);
    sim = await startSimulator({ port: 0 });
    await sim.pushTicket();
    const client = localClient(dynamo.endpoint);
    const deps: StoreDeps = { doc: DynamoDBDocumentClient.from(client), tableName: TABLE, clock: Date.now };
    await saveVerifyTicket(deps, { componentAppId: SIMULATOR_COMPONENT.appId, ticket: sim.latestTicket()!, createTime: nowS() });
    miniProgram = (await sim.authorize({ kind: 'miniprogram', push: false })).authorizerAppid;
    officialAccount = (await sim.authorize({ kind: 'official', push: false })).authorizerAppid;
    for (const account of sim.accounts()) {
      await saveAuthorization(deps, account.appid, {
        refreshToken: account.refreshToken!,
        funcInfo: [...account.funcInfo],
        authorizedAt: nowS() - 10,
      });
    }
    client.destroy();
    env = localInvokeEnv({ WECHAT_API_BASE_URL: sim.url, DYNAMODB_ENDPOINT: dynamo.endpoint, PUBLIC_BASE_URL: 'https://platform.example.com' });
  });
  after(async () => {
    await sim?.stop();
    await dynamo?.stop();
  });

  it('login: a wx.login() code answers the openid and session key; the sample event an {error}, not a crash', async () => {
    // Prepare
    const { code, openid } = sim.mintJsCode({ authorizerAppid: miniProgram })!;
    // Act
    const login = await invokeLocal('login', ['--stage', STAGE, '--data', JSON.stringify({ authorizerAppid: miniProgram, jsCode: code })], env);
    const sample = await invokeLocal('login', ['--stage', STAGE, '--path', 'tests/events/login.json'], env);
    // Assess
    assert.equal(login.code, 0, login.output);
    const session = lastJson(login.output);
    assert.equal(session.openid, openid);
    assert.equal(typeof session.sessionKey, 'string');
    assert.ok(!login.output.replace(JSON.stringify(session, null, 4), '').includes(session.sessionKey as string), 'the session key was logged');
    assert.equal(sample.code, 0, sample.output);
    assert.equal((lastJson(sample.output).error as { type: string }).type, 'not_found');
  });

  it('token: {authorizerAppid, jsapiSignature} answers a wx.config WeChat accepts', async () => {
    // Prepare
    const url = 'https://h5.example.com/menu?id=7#top';
    // Act
    const { code, output } = await invokeLocal(
      'token',
      ['--stage', STAGE, '--data', JSON.stringify({ authorizerAppid: officialAccount, jsapiSignature: { url } })],
      env,
    );
    // Assess
    assert.equal(code, 0, output);
    const config = lastJson(output) as { appId: string; timestamp: number; nonceStr: string; signature: string };
    assert.equal(config.appId, officialAccount);
    assert.equal(sim.acceptsJsConfig({ ...config, url }), true);
    assert.equal(sim.calls('getticket'), 1);
  });
});
