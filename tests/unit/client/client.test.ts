// The operator's client with a stand-in Lambda at the SDK boundary (its `send`): what it invokes, how answers
// become values or typed errors, the busy retries and the token cache.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InvokeCommand } from '@aws-sdk/client-lambda';
import {
  AccountNeedsReauthError,
  createPlatformClient,
  PlatformBadRequestError,
  PlatformBusyError,
  PlatformInvokeError,
  WeChatError,
  type PlatformClientOptions,
} from '../../../client/index.ts';

type Answer = { payload?: unknown; functionError?: string };

/** A Lambda that answers from a script and records every invoke (function name and payload). */
const fakeLambda = (answers: (input: { FunctionName: string; payload: Record<string, unknown> }) => Answer | Promise<Answer>) => {
  const calls: { FunctionName: string; payload: Record<string, unknown> }[] = [];
  const lambda = {
    send: async (command: InvokeCommand) => {
      const input = {
        FunctionName: String(command.input.FunctionName),
        payload: JSON.parse(Buffer.from(command.input.Payload as Uint8Array).toString('utf8')),
      };
      calls.push(input);
      const answer = await answers(input);
      return {
        Payload: answer.payload === undefined ? undefined : Buffer.from(JSON.stringify(answer.payload)),
        ...(answer.functionError ? { FunctionError: answer.functionError } : {}),
      };
    },
  } as unknown as NonNullable<PlatformClientOptions['lambda']>;
  return { lambda, calls };
};

const NOW_S = 1_750_000_000;

describe('platform client', () => {
  it('invokes the stage token function for the component and an account, and caches until shortly before expiry', async () => {
    // Prepare
    let now = NOW_S * 1000;
    const { lambda, calls } = fakeLambda(({ payload }) => ({
      payload: { accessToken: `t-${payload.authorizerAppid ?? 'component'}-${calls.length}`, expiresAt: NOW_S + 7200 },
    }));
    const client = createPlatformClient({ stage: 'prod', lambda, clock: () => now });
    // Act
    const component = await client.getComponentToken();
    const account = await client.getAuthorizerToken('wx0123456789abcdef');
    const cached = await client.getAuthorizerToken('wx0123456789abcdef');
    now = (NOW_S + 7200 - 299) * 1000;
    const renewed = await client.getAuthorizerToken('wx0123456789abcdef');
    // Assess
    assert.deepEqual(
      calls.map((c) => [c.FunctionName, c.payload]),
      [
        ['wechat-component-prod-token', {}],
        ['wechat-component-prod-token', { authorizerAppid: 'wx0123456789abcdef' }],
        ['wechat-component-prod-token', { authorizerAppid: 'wx0123456789abcdef' }],
      ],
    );
    assert.equal(component.accessToken, 't-component-1');
    assert.equal(cached, account);
    assert.notEqual(renewed.accessToken, account.accessToken);
  });

  it('shares one invoke among concurrent callers in the process', async () => {
    // Prepare
    const { lambda, calls } = fakeLambda(async () => {
      await new Promise((r) => setTimeout(r, 20));
      return { payload: { accessToken: 't', expiresAt: NOW_S + 7200 } };
    });
    const client = createPlatformClient({ lambda, clock: () => NOW_S * 1000 });
    // Act
    const tokens = await Promise.all(Array.from({ length: 5 }, () => client.getAuthorizerToken('wx0123456789abcdef')));
    // Assess
    assert.equal(calls.length, 1);
    assert.ok(tokens.every((t) => t.accessToken === 't'));
  });

  it('retries busy with backoff and gives up typed after its attempts', async () => {
    // Prepare
    let busyLeft = 2;
    const busy = { payload: { error: { type: 'busy', message: 'another caller is refreshing' } } };
    const recovering = fakeLambda(() => (busyLeft-- > 0 ? busy : { payload: { accessToken: 't', expiresAt: NOW_S + 7200 } }));
    const stuck = fakeLambda(() => busy);
    // Act
    const token = await createPlatformClient({ lambda: recovering.lambda, retryBaseMs: 1 }).getComponentToken();
    const error = await createPlatformClient({ lambda: stuck.lambda, retryBaseMs: 1, busyAttempts: 3 })
      .getComponentToken()
      .catch((e: unknown) => e);
    // Assess
    assert.equal(token.accessToken, 't');
    assert.equal(recovering.calls.length, 3);
    assert.ok(error instanceof PlatformBusyError);
    assert.equal(stuck.calls.length, 3);
  });

  it('turns error answers into typed errors with the errcode, and never retries them', async () => {
    // Prepare
    const answers: Record<string, unknown> = {
      wx0000000000000001: { error: { type: 'needs_reauth', message: 'ask the owner' } },
      wx0000000000000002: { error: { type: 'wechat_error', message: 'quota', errcode: 45009, api: 'component/api_authorizer_token' } },
      wx0000000000000003: { error: { type: 'bad_request', message: 'no' } },
    };
    const { lambda, calls } = fakeLambda(({ payload }) => ({ payload: answers[String(payload.authorizerAppid)] }));
    const client = createPlatformClient({ lambda });
    // Act
    const errors = await Promise.all(Object.keys(answers).map((appid) => client.getAuthorizerToken(appid).catch((e: unknown) => e)));
    // Assess
    assert.ok(errors[0] instanceof AccountNeedsReauthError && errors[0].type === 'needs_reauth');
    assert.ok(errors[1] instanceof WeChatError && errors[1].errcode === 45009 && errors[1].api === 'component/api_authorizer_token');
    assert.ok(errors[2] instanceof PlatformBadRequestError);
    assert.equal(calls.length, 3);
  });

  it('sends admin actions with their input and reports a failed invocation as such', async () => {
    // Prepare
    const { lambda, calls } = fakeLambda(({ payload }) =>
      payload.action === 'crash' ? { payload: { errorMessage: 'boom' }, functionError: 'Unhandled' } : { payload: { started: true } },
    );
    const client = createPlatformClient({ stage: 'staging', lambda });
    // Act
    const answer = await client.admin('startPushTicket');
    const quota = await client.admin('quota', { cgiPath: '/cgi-bin/component/api_component_token' });
    const crash = await client.admin('crash').catch((e: unknown) => e);
    // Assess
    assert.deepEqual(answer, { started: true });
    assert.deepEqual(calls[1], {
      FunctionName: 'wechat-component-staging-admin',
      payload: { cgiPath: '/cgi-bin/component/api_component_token', action: 'quota' },
    });
    assert.equal(quota.started, true);
    assert.ok(crash instanceof PlatformInvokeError && /Unhandled/.test(crash.message));
  });
});
