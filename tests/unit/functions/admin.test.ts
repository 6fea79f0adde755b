import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { simulatorEnv } from '../../../infra/local/credentials.ts';
import { createHandler } from '../../../functions/admin/handler.ts';
import type { ActionInput, AdminAction } from '../../../lib/admin/action.ts';
import { BadRequestError } from '../../../lib/kernel/errors.ts';
import { WeChatApiError } from '../../../lib/wechat/errors.ts';
import { createMemoryLogger } from '../../../lib/kernel/logger.ts';
import { loadConfig } from '../../../lib/runtime/config.ts';
import { createWeChatDeps } from '../../../lib/runtime/wechat-deps.ts';
import { context } from '../../helpers/context.ts';

const given = () => {
  const config = loadConfig({ ...simulatorEnv(), TABLE_NAME: 'unused', PUBLIC_BASE_URL: 'https://platform.example.test' });
  const logger = createMemoryLogger();
  const deps = createWeChatDeps(config, config.secrets!, { logger });
  const seen: ActionInput[] = [];
  const actions: Record<string, AdminAction> = {
    echo: async (_deps, input) => {
      seen.push(input);
      return { echoed: input };
    },
    refuse: async () => {
      throw new BadRequestError('"tenant" must be a string');
    },
    crash: async () => {
      throw new Error('table unreachable');
    },
    quota: async () => {
      throw new WeChatApiError('component/clear_quota/v2', 48006, 'forbid to clear quota because of reaching the limit');
    },
  };
  return { invoke: createHandler(deps, actions), seen, logger };
};

describe('admin handler', () => {
  it('runs the named action with the payload minus "action" and answers its object', async () => {
    // Prepare
    const { invoke, seen, logger } = given();
    // Act
    const answer = await invoke({ action: 'echo', tenant: 'acme', ttlSeconds: 60 }, context);
    // Assess
    assert.deepEqual(answer, { echoed: { tenant: 'acme', ttlSeconds: 60 } });
    assert.deepEqual(seen, [{ tenant: 'acme', ttlSeconds: 60 }]);
    const done = logger.records().find((r) => r.event === 'admin.action_done');
    assert.equal(done?.action, 'echo');
    assert.equal(done?.requestId, context.awsRequestId);
  });

  it('answers unknown_action listing the known actions, running nothing', async () => {
    const { invoke, seen } = given();
    const answer = await invoke({ action: 'dropTable' }, context);
    assert.deepEqual(answer, { error: { type: 'unknown_action', message: 'unknown action "dropTable"; known actions: crash, echo, quota, refuse' } });
    assert.deepEqual(seen, []);
  });

  it('does not treat inherited object properties as actions', async () => {
    const { invoke } = given();
    for (const action of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      const answer = (await invoke({ action }, context)) as { error?: { type: string } };
      assert.equal(answer.error?.type, 'unknown_action', action);
    }
  });

  it('answers bad_request for a payload without a string action', async () => {
    const { invoke, seen } = given();
    for (const payload of [undefined, null, 'echo', [], {}, { action: 7 }, { tenant: 'acme' }]) {
      const answer = (await invoke(payload, context)) as { error?: { type: string; message: string } };
      assert.equal(answer.error?.type, 'bad_request', JSON.stringify(payload));
      assert.match(answer.error?.message ?? '', /"action"/);
    }
    assert.deepEqual(seen, []);
  });

  it("maps an action's BadRequestError to bad_request with its message", async () => {
    const { invoke } = given();
    assert.deepEqual(await invoke({ action: 'refuse' }, context), { error: { type: 'bad_request', message: '"tenant" must be a string' } });
  });

  it('throws anything unexpected, so the invocation fails visibly', async () => {
    const { invoke } = given();
    await assert.rejects(invoke({ action: 'crash' }, context), /table unreachable/);
  });

  it('answers a WeChat API failure of an action as wechat_error with the errcode and the API, not a failed invocation', async () => {
    // Prepare
    const { invoke } = given();
    // Act
    const answer = await invoke({ action: 'quota' }, context);
    // Assess
    assert.deepEqual(answer, {
      error: {
        type: 'wechat_error',
        message: 'component/clear_quota/v2 failed: errcode 48006: forbid to clear quota because of reaching the limit',
        errcode: 48006,
        api: 'component/clear_quota/v2',
      },
    });
  });
});
