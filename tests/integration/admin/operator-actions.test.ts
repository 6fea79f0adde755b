// The operator actions against DynamoDB Local and the WeChat simulator, called as the admin function calls them.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { ActionInput, AdminAction } from '../../../lib/admin/action.ts';
import { getOption, list, refetchInfo, setOption } from '../../../lib/admin/accounts.ts';
import { clearQuota, quota, startPushTicket } from '../../../lib/admin/recovery.ts';
import { completeAuthorization } from '../../../lib/authorization/exchange.ts';
import { BadRequestError } from '../../../lib/kernel/errors.ts';
import { nowSeconds } from '../../../lib/kernel/clock.ts';
import { getAuthorizer } from '../../../lib/store/authorizers.ts';
import { outboxKey, stableEventId } from '../../../lib/store/outbox.ts';
import { WeChatApiError } from '../../../lib/wechat/errors.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { simulatorDeps, type SimulatorDeps } from '../../helpers/given.ts';

let table: TestTable;
let given: SimulatorDeps;
const run = (action: AdminAction, input: ActionInput = {}) => action(given.deps, input);
const failure = (work: Promise<unknown>) =>
  work.then(
    (ok) => assert.fail(`expected a failure, got ${JSON.stringify(ok)}`),
    (e: unknown) => e,
  );

/** An account authorized in the simulator and stored as the landing page stores it. */
const authorized = async (funcInfo = [1, 2]): Promise<string> => {
  const { authorizationCode, authorizerAppid } = await given.sim.authorize({ push: false, funcInfo });
  await completeAuthorization(given.deps, { authorizationCode, codeExpiresAt: nowSeconds(given.deps.clock) + 3600, waitMs: 1000 });
  return authorizerAppid;
};

before(async () => {
  table = await createTestTable();
  given = await simulatorDeps(table, 'http://127.0.0.1:1');
});
after(async () => {
  await given?.sim.stop();
  await table?.close();
});
beforeEach(() => given.sim.resetCounters());

describe('operator actions', () => {
  it('startPushTicket asks WeChat to push a ticket again, with the app secret it never shows', async () => {
    // Prepare
    const before = given.sim.latestTicket();
    // Act
    const answer = await run(startPushTicket);
    await new Promise((r) => setTimeout(r, 50));
    // Assess
    assert.equal(answer.started, true);
    assert.equal(given.sim.calls('api_start_push_ticket'), 1);
    assert.notEqual(given.sim.latestTicket(), before, 'the simulator issued a new ticket, as WeChat pushes one');
    assert.ok(!JSON.stringify(answer).includes(given.deps.secrets.appSecret));
  });

  it('quota reads one API quota for the component or for an account, and names a bad path by its errcode', async () => {
    // Prepare
    const appid = await authorized();
    const componentTokenCalls = given.sim.calls('api_component_token');
    // Act
    const component = await run(quota, { cgiPath: '/cgi-bin/component/api_component_token' });
    const account = await run(quota, { cgiPath: '/cgi-bin/message/custom/send', authorizerAppid: appid });
    const unknown = await failure(run(quota, { cgiPath: '/cgi-bin/no/such/api' }));
    // Assess
    assert.deepEqual(component, {
      cgiPath: '/cgi-bin/component/api_component_token',
      dailyLimit: 2000,
      used: componentTokenCalls,
      remain: 2000 - componentTokenCalls,
    });
    assert.equal(account.authorizerAppid, appid);
    assert.equal(typeof account.remain, 'number');
    assert.ok(unknown instanceof WeChatApiError && unknown.errcode === 76003, String(unknown));
  });

  it('clearQuota clears by the app secret, the component or one account, until WeChat refuses with 48006', async () => {
    // Prepare
    const appid = await authorized();
    // Act
    const answers = [await run(clearQuota), await run(clearQuota, { authorizerAppid: appid })];
    for (let i = 2; i < 10; i += 1) await run(clearQuota);
    const eleventh = await failure(run(clearQuota));
    // Assess
    assert.deepEqual(
      answers.map((a) => a.cleared),
      [given.deps.config.componentAppId, appid],
    );
    assert.equal(given.sim.calls('clear_quota/v2'), 11);
    assert.ok(eleventh instanceof WeChatApiError && eleventh.errcode === 48006, String(eleventh));
  });

  it('refetchInfo stores the info and permissions WeChat now has, announcing the change in the same write', async () => {
    // Prepare: the owner granted more in WeChat without a push reaching us.
    const appid = await authorized([1, 2]);
    const version = (await getAuthorizer(given.deps, appid))!.version;
    await given.sim.reauthorize(appid, { push: false, funcInfo: [1, 2, 15] });
    // Act
    const answer = await run(refetchInfo, { authorizerAppid: appid });
    const again = await run(refetchInfo, { authorizerAppid: appid });
    // Assess
    assert.deepEqual([answer.funcInfo, answer.permissionsChanged, again.permissionsChanged], [[1, 2, 15], true, false]);
    assert.deepEqual((await getAuthorizer(given.deps, appid))?.funcInfo, [1, 2, 15]);
    const id = stableEventId('Authorizer Updated', appid, 'refetched', version);
    const { Item } = await table.doc.send(new GetCommand({ TableName: table.tableName, Key: outboxKey(id) }));
    assert.equal(Item?.detailType, 'Authorizer Updated');
    assert.deepEqual((Item?.detail as { added?: number[] } | undefined)?.added, [15]);
  });

  it('getOption and setOption read and set an option with the account token, refusing bad input before any call', async () => {
    // Prepare
    const appid = await authorized();
    // Act
    const set = await run(setOption, { authorizerAppid: appid, optionName: 'voice_recognize', optionValue: 1 });
    const read = await run(getOption, { authorizerAppid: appid, optionName: 'voice_recognize' });
    given.sim.resetCounters();
    const bad = await Promise.all([
      failure(run(setOption, { authorizerAppid: appid, optionName: 'voice_recognize', optionValue: '2' })),
      failure(run(getOption, { authorizerAppid: appid, optionName: 'nope' })),
      failure(run(getOption, { authorizerAppid: 'wx123', optionName: 'voice_recognize' })),
      failure(run(getOption, { authorizerAppid: appid, optionName: 'voice_recognize', extra: 1 })),
    ]);
    // Assess
    assert.deepEqual(set, { authorizerAppid: appid, optionName: 'voice_recognize', optionValue: '1' });
    assert.deepEqual(read, { authorizerAppid: appid, optionName: 'voice_recognize', optionValue: '1' });
    assert.ok(bad.every((e) => e instanceof BadRequestError));
    assert.equal(given.sim.calls(), 0);
  });

  it('list pages through the accounts with a cursor and refuses a cursor it did not hand out', async () => {
    // Prepare
    await authorized();
    await authorized();
    // Act
    const first = await run(list, { limit: 1 });
    const second = await run(list, { limit: 1, cursor: first.cursor });
    const bad = await failure(run(list, { cursor: 'bm90LWEtY3Vyc29y' }));
    // Assess
    const [a] = first.authorizers as { authorizerAppid: string }[];
    const [b] = second.authorizers as { authorizerAppid: string }[];
    assert.ok(a && b && a.authorizerAppid < b.authorizerAppid);
    assert.ok(!JSON.stringify([first, second]).includes('refreshtoken@@@'));
    assert.ok(bad instanceof BadRequestError);
  });
});
