import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SIMULATOR_COMPONENT } from '../../infra/local/credentials.ts';
import { ensureTable, localClient } from '../../infra/local/dynamodb.ts';
import { startSimulator, type Simulator } from '../../infra/local/simulator/index.ts';
import { authorizerKey, listKeys } from '../../lib/store/keys.ts';
import { nextRefreshFor, scheduleAttributes } from '../../lib/store/schedule.ts';
import { saveVerifyTicket } from '../../lib/store/tickets.ts';
import { tokenItem } from '../../lib/store/tokens.ts';
import { useDynamoEndpoint, type DynamoEndpoint } from '../helpers/dynamo.ts';
import { invokeLocal, localInvokeEnv } from '../helpers/sls.ts';

// A stage of its own, so this test's table (serverless computes wechat-component-<stage>) is not shared.
const STAGE = 'e2erefresh';
const TABLE = `wechat-component-${STAGE}`;
const TIMEOUT_MS = 90_000;
const nowS = () => Math.floor(Date.now() / 1000);

describe('sls invoke local -f refresh', () => {
  let dynamo: DynamoEndpoint | undefined;
  let endpoint: string;
  let sim: Simulator;
  let appids: string[];

  before(async () => {
    dynamo = await useDynamoEndpoint();
    endpoint = dynamo.endpoint;
    await ensureTable(endpoint, TABLE);
    sim = await startSimulator({ port: 0 });
    await sim.pushTicket();
    const client = localClient(endpoint);
    const doc = DynamoDBDocumentClient.from(client);
    await saveVerifyTicket(
      { doc, tableName: TABLE, clock: Date.now },
      { componentAppId: SIMULATOR_COMPONENT.appId, ticket: sim.latestTicket()!, createTime: nowS() },
    );
    appids = (await Promise.all([1, 2, 3].map(() => sim.authorize({ push: false })))).map((a) => a.authorizerAppid);
    const refreshTokens = new Map(sim.accounts().map((a) => [a.appid, a.refreshToken]));
    const now = nowS();
    const items = appids.flatMap((appid) => [
      {
        ...authorizerKey(appid, 'PROFILE'),
        authorizerAppid: appid,
        status: 'authorized',
        refreshToken: refreshTokens.get(appid),
        funcInfo: [1],
        authorizedAt: now - 60,
        updatedAt: now - 60,
        version: 1,
        ...listKeys(appid),
        ...scheduleAttributes(appid, nextRefreshFor(now + 120)),
      },
      tokenItem(authorizerKey(appid, 'ACCESS_TOKEN'), { accessToken: `seeded-${appid}`, expiresAt: now + 120 }, now - 7000),
    ]);
    await doc.send(new BatchWriteCommand({ RequestItems: { [TABLE]: items.map((Item) => ({ PutRequest: { Item } })) } }));
    client.destroy();
  });
  after(async () => {
    await sim?.stop();
    await dynamo?.stop();
  });

  it('refreshes the due tokens and prints the run summary', async () => {
    // Act
    const env = localInvokeEnv({ WECHAT_API_BASE_URL: sim.url, DYNAMODB_ENDPOINT: endpoint });
    const { code, output } = await invokeLocal('refresh', ['--stage', STAGE, '--path', 'tests/events/refresh.json'], env, TIMEOUT_MS);
    // Assess
    assert.equal(code, 0, output);
    assert.match(output, /"event":"refresh\.completed"/);
    assert.match(output, /"refreshed": 3/);
    assert.match(output, /"component": "refreshed"/);
    assert.match(output, /"_aws":\{"Timestamp":\d+,"CloudWatchMetrics":\[\{"Namespace":"WeChatComponent"/);
    assert.equal(sim.calls('api_authorizer_token'), 3);
  });
});
