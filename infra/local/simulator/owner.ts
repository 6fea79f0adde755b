// The account owner's side of an authorization (docs/protocol.md §1.4, §1.8): authorizing on WeChat's page issues a
// single-use code, which the owner's browser carries to the landing page and WeChat pushes to the event URL.
import { authorizeAccount, issueAuthCode, takePreAuthCode, type AccountInput } from './accounts.ts';
import { authorizationXml, unauthorizedXml, type Pusher } from './pusher.ts';
import { AUTH_CODE_TTL_S, dropAuthorizerTokens, nowS, type Account, type SimState } from './state.ts';

export interface AuthorizeInput extends AccountInput {
  /** Send the `authorized` push to the push URL (default true). */
  push?: boolean;
  /** Carry a PreAuthCode in the push (default true; WeChat's release-test authorizations carry none). */
  withPreAuthCode?: boolean;
  /** Deliver the same push this many times (default 1), as WeChat does when it doubts an answer arrived. */
  deliveries?: number;
}

export type ReauthorizeInput = Omit<AuthorizeInput, 'authorizerAppid' | 'kind'>;

export interface AuthorizeResult {
  readonly authorizerAppid: string;
  readonly authorizationCode: string;
  /** The pre_auth_code the owner authorized with (the newest live one a start page got), as the push carries it. */
  readonly preAuthCode?: string;
  /** HTTP status of the push; 0 when nobody answered; absent when no push was sent. */
  readonly pushStatus?: number;
}

export interface Owner {
  authorize(input?: AuthorizeInput): Promise<AuthorizeResult>;
  reauthorize(authorizerAppid: string, input?: ReauthorizeInput): Promise<AuthorizeResult>;
  unauthorize(authorizerAppid: string, options?: { push?: boolean }): Promise<{ pushStatus?: number }>;
}

/** An owner action named an account the simulator does not know. */
export class UnknownAccountError extends Error {
  constructor(appid: string) {
    super(`unknown account ${appid}`);
    this.name = 'UnknownAccountError';
  }
}

/** The query WeChat appends to redirect_uri after the owner authorizes (docs/protocol.md §1.8). */
export const landingQuery = (authorizationCode: string): string => `?auth_code=${authorizationCode}&expires_in=${AUTH_CODE_TTL_S}`;

interface OwnerContext {
  readonly state: SimState;
  readonly pusher: Pusher;
  readonly pushUrl: string | undefined;
  readonly log: (line: string) => void;
}

const send = async (ctx: OwnerContext, label: string, xml: string, push: boolean | undefined): Promise<number | undefined> => {
  if (push === false) return undefined;
  if (!ctx.pushUrl) {
    ctx.log(`push ${label} skipped (no push URL)`);
    return undefined;
  }
  return (await ctx.pusher.deliver(ctx.pushUrl, xml, { label, timestamp: nowS(ctx.state) })).status;
};

const grant = async (ctx: OwnerContext, account: Account, infoType: 'authorized' | 'updateauthorized', input: AuthorizeInput) => {
  const { state } = ctx;
  const authorizationCode = issueAuthCode(state, account);
  const preAuthCode = input.withPreAuthCode === false ? undefined : takePreAuthCode(state);
  const xml = authorizationXml({
    appId: state.component.appId,
    createTime: nowS(state),
    infoType,
    authorizerAppid: account.appid,
    authorizationCode,
    preAuthCode,
  });
  let pushStatus = await send(ctx, infoType, xml, input.push);
  for (let again = 1; again < (input.deliveries ?? 1); again += 1) pushStatus = await send(ctx, infoType, xml, input.push);
  return {
    authorizerAppid: account.appid,
    authorizationCode,
    ...(preAuthCode ? { preAuthCode } : {}),
    ...(pushStatus === undefined ? {} : { pushStatus }),
  };
};

const reauthorize = async (ctx: OwnerContext, authorizerAppid: string, input: ReauthorizeInput = {}): Promise<AuthorizeResult> => {
  const existing = ctx.state.accounts.get(authorizerAppid);
  if (!existing) throw new UnknownAccountError(authorizerAppid);
  // Re-authorization rotates the refresh token and ends the old access tokens (docs/protocol.md §1.6).
  dropAuthorizerTokens(ctx.state, existing);
  const account = authorizeAccount(ctx.state, { ...input, authorizerAppid });
  return grant(ctx, account, 'updateauthorized', input);
};

/** A first authorization pushes `authorized`; an account that is already authorized gets `updateauthorized`. */
const authorize = async (ctx: OwnerContext, input: AuthorizeInput = {}): Promise<AuthorizeResult> => {
  const existing = input.authorizerAppid ? ctx.state.accounts.get(input.authorizerAppid) : undefined;
  if (existing?.status === 'authorized') return reauthorize(ctx, existing.appid, input);
  if (existing) dropAuthorizerTokens(ctx.state, existing);
  return grant(ctx, authorizeAccount(ctx.state, input), 'authorized', input);
};

/** Revocation: the refresh token and access tokens stop working at once; WeChat then answers 61003. */
const unauthorize = async (ctx: OwnerContext, authorizerAppid: string, options: { push?: boolean } = {}) => {
  const { state } = ctx;
  const account = state.accounts.get(authorizerAppid);
  if (!account) throw new UnknownAccountError(authorizerAppid);
  account.status = 'unauthorized';
  account.refreshToken = undefined;
  dropAuthorizerTokens(state, account);
  const pushStatus = await send(ctx, 'unauthorized', unauthorizedXml(state.component.appId, nowS(state), authorizerAppid), options.push);
  return pushStatus === undefined ? {} : { pushStatus };
};

export const createOwner = (state: SimState, pusher: Pusher, pushUrl: string | undefined, log: (line: string) => void): Owner => {
  const ctx: OwnerContext = { state, pusher, pushUrl, log };
  return {
    authorize: (input) => authorize(ctx, input),
    reauthorize: (appid, input) => reauthorize(ctx, appid, input),
    unauthorize: (appid, options) => unauthorize(ctx, appid, options),
  };
};
