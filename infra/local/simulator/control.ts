// The simulator's controls as JSON over HTTP under /__sim/, for tests and tools that drive a simulator running
// in another process (`npm start`, the CLI). Same operations as the in-process Simulator object.
import type { AuthorizeInput, InjectInput, MintedCode, OAuthScope, Simulator } from './index.ts';
import { UnknownAccountError } from './owner.ts';
import type { ControlAnswer, ControlHandler } from './server.ts';

type Body = Record<string, unknown>;
type Action = (sim: Simulator, body: Body, url: URL) => ControlAnswer | Promise<ControlAnswer>;

class ControlInputError extends Error {}

const ok = (json: unknown = { ok: true }): ControlAnswer => ({ status: 200, json });

const field = <T>(body: Body, key: string, type: 'string' | 'number' | 'boolean', required = false): T | undefined => {
  const value = body[key];
  if (value === undefined) {
    if (required) throw new ControlInputError(`${key} is required`);
    return undefined;
  }
  if (typeof value !== type) throw new ControlInputError(`${key} must be a ${type}`);
  return value as T;
};

const funcInfoField = (body: Body): number[] | undefined => {
  const value = body.funcInfo;
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((id) => Number.isInteger(id))) throw new ControlInputError('funcInfo must be an array of integers');
  return value as number[];
};

const authorizeInput = (body: Body): AuthorizeInput => {
  const kind = field<string>(body, 'kind', 'string');
  if (kind !== undefined && kind !== 'official' && kind !== 'miniprogram') throw new ControlInputError('kind must be official or miniprogram');
  return {
    authorizerAppid: field<string>(body, 'authorizerAppid', 'string'),
    kind,
    funcInfo: funcInfoField(body),
    nickName: field<string>(body, 'nickName', 'string'),
    userName: field<string>(body, 'userName', 'string'),
    push: field<boolean>(body, 'push', 'boolean'),
    withPreAuthCode: field<boolean>(body, 'withPreAuthCode', 'boolean'),
    deliveries: field<number>(body, 'deliveries', 'number'),
  };
};

const injectInput = (body: Body): InjectInput => ({
  api: field<string>(body, 'api', 'string', true)!,
  errcode: field<number>(body, 'errcode', 'number'),
  errmsg: field<string>(body, 'errmsg', 'string'),
  times: field<number>(body, 'times', 'number'),
  httpStatus: field<number>(body, 'httpStatus', 'number'),
});

const mintInput = (body: Body) => ({
  authorizerAppid: field<string>(body, 'authorizerAppid', 'string', true)!,
  ...(body.user !== undefined ? { user: field<string>(body, 'user', 'string')! } : {}),
  ...(body.unionid !== undefined ? { unionid: field<boolean>(body, 'unionid', 'boolean')! } : {}),
});

const scopeField = (body: Body): OAuthScope => {
  const scope = field<string>(body, 'scope', 'string') ?? 'snsapi_base';
  if (scope !== 'snsapi_base' && scope !== 'snsapi_userinfo') throw new ControlInputError('scope must be snsapi_base or snsapi_userinfo');
  return scope;
};

/** A minted code, or 404 when the account is unknown here or of the other kind. */
const minted = (code: MintedCode | undefined, kind: string): ControlAnswer =>
  code ? ok(code) : { status: 404, json: { error: `no authorized ${kind} with that authorizerAppid (authorize one with kind ${kind})` } };

const countsOf = (sim: Simulator): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const call of sim.callLog) counts[call.api] = sim.calls(call.api);
  return counts;
};

const auditPlan = (body: Body) => {
  const outcome = field<string>(body, 'outcome', 'string');
  if (outcome !== undefined && !['pass', 'fail', 'delay'].includes(outcome)) throw new ControlInputError('outcome must be pass, fail or delay');
  const afterDelay = field<string>(body, 'afterDelay', 'string');
  if (afterDelay !== undefined && !['pass', 'fail'].includes(afterDelay)) throw new ControlInputError('afterDelay must be pass or fail');
  const shots = body.screenshots;
  if (shots !== undefined && !(Array.isArray(shots) && shots.every((s) => typeof s === 'string')))
    throw new ControlInputError('screenshots must be strings');
  const plan = {
    authorizerAppid: field<string>(body, 'authorizerAppid', 'string'),
    outcome: outcome as 'pass' | 'fail' | 'delay' | undefined,
    delayMs: field<number>(body, 'delayMs', 'number'),
    reason: field<string>(body, 'reason', 'string'),
    screenshots: shots as string[] | undefined,
    afterDelay: afterDelay as 'pass' | 'fail' | undefined,
  };
  return Object.fromEntries(Object.entries(plan).filter(([, v]) => v !== undefined));
};

const ACTIONS: Record<string, Action> = {
  'POST /__sim/code/audit': (sim, body) => {
    sim.code.setAudit(auditPlan(body));
    return ok();
  },
  'POST /__sim/code/quota': (sim, body) => {
    sim.code.setQuota({
      rest: field<number>(body, 'rest', 'number'),
      limit: field<number>(body, 'limit', 'number'),
      speedupRest: field<number>(body, 'speedupRest', 'number'),
    });
    return ok(sim.code.quota());
  },
  'GET /__sim/code/quota': (sim) => ok(sim.code.quota()),
  'POST /__sim/code/draft': (sim, body) =>
    ok({
      draftId: sim.code.uploadDraft({
        userVersion: field<string>(body, 'userVersion', 'string'),
        userDesc: field<string>(body, 'userDesc', 'string'),
      }),
    }),
  'POST /__sim/code/privacy-scan': (sim, body) => {
    sim.code.setPrivacyScanMs(field<number>(body, 'ms', 'number', true)!);
    return ok();
  },
  'GET /__sim/code/account': (sim, _body, url) => {
    const appid = url.searchParams.get('authorizerAppid');
    if (!appid) throw new ControlInputError('authorizerAppid is required');
    return ok(sim.code.account(appid));
  },
  'GET /__sim/health': (sim) => ok({ ok: true, url: sim.url, componentAppId: sim.component.appId }),
  'GET /__sim/calls': (sim, _body, url) => {
    const api = url.searchParams.get('api');
    if (api) return ok({ api, count: sim.calls(api) });
    return ok({ total: sim.calls(), counts: countsOf(sim), log: sim.callLog });
  },
  'POST /__sim/reset-counters': (sim) => {
    sim.resetCounters();
    return ok();
  },
  'POST /__sim/inject': (sim, body) => {
    sim.inject(injectInput(body));
    return ok();
  },
  'POST /__sim/latency': (sim, body) => {
    sim.setLatency(field<number>(body, 'ms', 'number', true)!, field<string>(body, 'api', 'string'));
    return ok();
  },
  'POST /__sim/push-ticket': async (sim) => ok(await sim.pushTicket()),
  'GET /__sim/ticket': (sim) => ok({ ticket: sim.latestTicket() ?? null }),
  'POST /__sim/authorize': async (sim, body) => {
    const result = await sim.authorize(authorizeInput(body));
    return ok({ ...result, landingQuery: sim.landingQuery(result.authorizationCode) });
  },
  'POST /__sim/reauthorize': async (sim, body) => {
    const { authorizerAppid, kind: _kind, ...rest } = authorizeInput(body);
    if (!authorizerAppid) throw new ControlInputError('authorizerAppid is required');
    const result = await sim.reauthorize(authorizerAppid, rest);
    return ok({ ...result, landingQuery: sim.landingQuery(result.authorizationCode) });
  },
  'POST /__sim/unauthorize': async (sim, body) => {
    const appid = field<string>(body, 'authorizerAppid', 'string', true)!;
    return ok(await sim.unauthorize(appid, { push: field<boolean>(body, 'push', 'boolean') }));
  },
  'GET /__sim/messages': (sim) => ok({ messages: sim.customerMessages() }),
  'GET /__sim/accounts': (sim) => ok({ accounts: sim.accounts() }),
  'POST /__sim/expire-tokens': (sim, body) => {
    const appid = field<string>(body, 'authorizerAppid', 'string');
    if (appid) sim.expireAuthorizerToken(appid);
    else sim.expireComponentTokens();
    return ok();
  },
  'POST /__sim/js-code': (sim, body) => minted(sim.mintJsCode(mintInput(body)), 'miniprogram'),
  'POST /__sim/oauth-code': (sim, body) => minted(sim.mintOAuthCode({ ...mintInput(body), scope: scopeField(body) }), 'official'),
  'POST /__sim/ticket-quota': (sim, body) => {
    sim.setTicketQuotaExhausted(field<boolean>(body, 'exhausted', 'boolean', true)!, field<string>(body, 'authorizerAppid', 'string'));
    return ok();
  },
  'POST /__sim/js-config': (sim, body) => {
    const input = {
      appId: field<string>(body, 'appId', 'string', true)!,
      url: field<string>(body, 'url', 'string', true)!,
      timestamp: field<number>(body, 'timestamp', 'number', true)!,
      nonceStr: field<string>(body, 'nonceStr', 'string', true)!,
      signature: field<string>(body, 'signature', 'string', true)!,
    };
    return ok({ accepted: sim.acceptsJsConfig(input) });
  },
  'POST /__sim/refresh-token-rotation': (sim, body) => {
    sim.setRefreshTokenRotation(field<boolean>(body, 'on', 'boolean', true)!);
    return ok();
  },
};

/** Routes /__sim/ requests; 400 for bad input, 404 for unknown controls or accounts. */
export const createControl =
  (simulator: () => Simulator): ControlHandler =>
  async (method, url, body) => {
    const action = ACTIONS[`${method} ${url.pathname}`];
    if (!action) return { status: 404, json: { error: `no such control: ${method} ${url.pathname}`, controls: Object.keys(ACTIONS) } };
    try {
      return await action(simulator(), body as Body, url);
    } catch (error) {
      if (error instanceof ControlInputError) return { status: 400, json: { error: error.message } };
      if (error instanceof UnknownAccountError) return { status: 404, json: { error: error.message } };
      throw error;
    }
  };
