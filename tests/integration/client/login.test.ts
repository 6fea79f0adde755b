// The typed client of the on-behalf calls (lib/client/login.ts) over a Lambda stand-in that runs the real
// `token` and `login` handlers the way Lambda's Invoke does (JSON bytes in and out, FunctionError when the
// handler throws), against DynamoDB Local and the WeChat simulator.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InvokeCommand, InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { createHandler as createLoginHandler } from '../../../functions/login/handler.ts';
import { createHandler as createTokenHandler } from '../../../functions/token/handler.ts';
import { simulatorEnv, SIMULATOR_COMPONENT } from '../../../infra/local/credentials.ts';
import { startSimulator, type Simulator } from '../../../infra/local/simulator/index.ts';
import { createOnBehalfClient, OnBehalfInvokeError, OnBehalfServiceError, type OnBehalfClient } from '../../../lib/client/login.ts';
import { nowSeconds } from '../../../lib/kernel/clock.ts';
import { createMemoryLogger } from '../../../lib/kernel/logger.ts';
import { loadConfig } from '../../../lib/runtime/config.ts';
import { createWeChatDeps, type WeChatDeps } from '../../../lib/runtime/wechat-deps.ts';
import { saveAuthorization } from '../../../lib/store/grants.ts';
import { saveVerifyTicket } from '../../../lib/store/tickets.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';

let sim: Simulator;
let table: TestTable;
let deps: WeChatDeps;
let client: OnBehalfClient;
let miniProgram: string;
let officialAccount: string;
const invoked: string[] = [];

/** Lambda's Invoke for two functions, in process: what a deployed function would answer, byte for byte in JSON. */
const lambdaStandIn = (handlers: Record<string, (event: unknown) => Promise<unknown>>): Pick<LambdaClient, 'send'> => ({
  send: (async (command: InvokeCommand): Promise<Partial<InvokeCommandOutput>> => {
    const name = command.input.FunctionName ?? '';
    invoked.push(name);
    const event = JSON.parse(new TextDecoder().decode(command.input.Payload as Uint8Array));
    try {
      const answer = await handlers[name]!(event);
      return { StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(answer)) as InvokeCommandOutput['Payload'] };
    } catch (error) {
      const body = { errorType: (error as Error).name, errorMessage: (error as Error).message };
      return {
        StatusCode: 200,
        FunctionError: 'Unhandled',
        Payload: new TextEncoder().encode(JSON.stringify(body)) as InvokeCommandOutput['Payload'],
      };
    }
  }) as LambdaClient['send'],
});

before(async () => {
  sim = await startSimulator({ autoPush: false, ticketIntervalMs: 0 });
  table = await createTestTable();
  const config = loadConfig({
    ...simulatorEnv(),
    TABLE_NAME: table.tableName,
    WECHAT_API_BASE_URL: sim.url,
    PUBLIC_BASE_URL: 'https://platform.example.test',
  });
  deps = createWeChatDeps(config, config.secrets!, { doc: table.doc, logger: createMemoryLogger() });
  await sim.pushTicket();
  await saveVerifyTicket(deps, { componentAppId: SIMULATOR_COMPONENT.appId, ticket: sim.latestTicket()!, createTime: nowSeconds(deps.clock) });
  miniProgram = (await sim.authorize({ kind: 'miniprogram', push: false })).authorizerAppid;
  officialAccount = (await sim.authorize({ kind: 'official', push: false })).authorizerAppid;
  for (const account of sim.accounts()) {
    await saveAuthorization(deps, account.appid, {
      refreshToken: account.refreshToken!,
      funcInfo: [...account.funcInfo],
      authorizedAt: nowSeconds(deps.clock) - 10,
    });
  }
  const token = createTokenHandler(deps);
  const login = createLoginHandler(deps);
  client = createOnBehalfClient({
    lambda: lambdaStandIn({ 'wechat-component-test-token': token, 'wechat-component-test-login': login }),
    tokenFunction: 'wechat-component-test-token',
    loginFunction: 'wechat-component-test-login',
  });
});
after(async () => {
  await sim.stop();
  await table.close();
});

describe('onBehalfClient', () => {
  it('gets a ticket and a wx.config WeChat accepts from the token function', async () => {
    // Act
    const ticket = await client.jsapiTicket(officialAccount);
    const config = await client.jsapiConfig(officialAccount, 'https://h5.example.test/p?a=1#x');
    // Assess
    assert.ok(ticket.ticket && ticket.expiresAt > nowSeconds(deps.clock));
    assert.equal(sim.acceptsJsConfig({ ...config, url: 'https://h5.example.test/p?a=1' }), true);
    assert.deepEqual(invoked.slice(-2), ['wechat-component-test-token', 'wechat-component-test-token']);
  });

  it('logs a mini-program user in, and turns a spent code into OnBehalfServiceError invalid_code with its errcode', async () => {
    // Prepare
    const minted = sim.mintJsCode({ authorizerAppid: miniProgram })!;
    // Act
    const session = await client.miniProgramLogin(miniProgram, minted.code);
    const spent = await client.miniProgramLogin(miniProgram, minted.code).catch((e: unknown) => e);
    // Assess
    assert.equal(session.openid, minted.openid);
    assert.ok(spent instanceof OnBehalfServiceError);
    assert.deepEqual([spent.type, spent.errcode], ['invalid_code', 40163]);
    assert.equal(invoked.at(-1), 'wechat-component-test-login');
  });

  it('runs the web-OAuth exchange, refresh and userinfo', async () => {
    // Prepare
    const minted = sim.mintOAuthCode({ authorizerAppid: officialAccount, scope: 'snsapi_userinfo' })!;
    // Act
    const token = await client.oauthLogin(officialAccount, minted.code);
    const refreshed = await client.oauthRefresh(officialAccount, token.refreshToken);
    const info = await client.oauthUserinfo(officialAccount, { accessToken: refreshed.accessToken, openid: refreshed.openid });
    // Assess
    assert.equal(token.openid, minted.openid);
    assert.equal(info.openid, minted.openid);
    assert.equal(info.unionid, minted.unionid);
  });

  it('reports a bad request as OnBehalfServiceError and a failed function as OnBehalfInvokeError', async () => {
    // Prepare
    const brokenClient = createOnBehalfClient({
      lambda: lambdaStandIn({ broken: async () => Promise.reject(new Error('out of memory')) }),
      tokenFunction: 'broken',
      loginFunction: 'broken',
    });
    // Act
    const bad = await client.jsapiConfig(officialAccount, 'not-a-url').catch((e: unknown) => e);
    const crashed = await brokenClient.miniProgramLogin(miniProgram, 'x').catch((e: unknown) => e);
    // Assess
    assert.ok(bad instanceof OnBehalfServiceError && bad.type === 'bad_request');
    assert.ok(crashed instanceof OnBehalfInvokeError && /Unhandled: out of memory/.test(crashed.message));
  });
});
