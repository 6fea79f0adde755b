// CODE items (docs/architecture.md §3): the api_query_auth result cached per authorization code, so the `authorized`
// push and the landing page never both spend one code (codes are single-use; a second exchange answers
// 61009). The first reader claims the code (claims.ts), exchanges it, and settles the claim with the result;
// everyone else waits on consistent reads. A crashed claimant's claim expires and another takes over.
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { nowSeconds } from '../kernel/clock.ts';
import { AppError } from '../kernel/errors.ts';
import { protectSecret } from '../kernel/logger.ts';
import type { AuthorizationInfo } from '../wechat/responses.ts';
import { codeKey, type StoreDeps } from './keys.ts';
import { type ClaimKind, dropClaim, settleClaim, takeClaim } from './claims.ts';
import { conditionMet } from './table.ts';

/** A code is valid for an hour (docs/protocol.md §1.6); its cached result lives as long. */
export const CODE_TTL_S = 60 * 60;

export type CodeState =
  /** Someone is exchanging the code right now; `claimUntil` is epoch ms. */
  | { readonly state: 'claimed'; readonly owner: string; readonly claimUntil: number }
  /**
   * Exchanged. Epoch seconds: `exchangedAt` is taken before api_query_auth was called (the token's expires_in and
   * the landing page's authorization time count from it, however late the result is applied), `cachedAt` when
   * the result was stored here, `appliedAt` once it has been stored on the authorizer's profile.
   */
  | {
      readonly state: 'exchanged';
      readonly authorization: AuthorizationInfo;
      readonly exchangedAt: number;
      readonly cachedAt: number;
      readonly appliedAt?: number;
    }
  /** WeChat refused the code for good (61009 invalid, 61010 expired): nobody should try again. */
  | { readonly state: 'rejected'; readonly errcode: number; readonly errmsg: string };

/** Our claim on a code was taken over (it expired while we were exchanging). */
export class CodeClaimLostError extends AppError {}

const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

const toAuthorization = (raw: Record<string, unknown>): AuthorizationInfo => {
  const accessToken = str(raw.authorizerAccessToken);
  const refreshToken = str(raw.authorizerRefreshToken);
  protectSecret(accessToken);
  protectSecret(refreshToken);
  return {
    authorizerAppid: String(raw.authorizerAppid),
    ...(accessToken ? { authorizerAccessToken: accessToken } : {}),
    ...(typeof raw.expiresIn === 'number' ? { expiresIn: raw.expiresIn } : {}),
    ...(refreshToken ? { authorizerRefreshToken: refreshToken } : {}),
    funcInfo: Array.isArray(raw.funcInfo) ? raw.funcInfo.map(Number) : [],
  };
};

const fromItem = (item: Record<string, unknown>): CodeState | undefined => {
  if (item.state === 'claimed') return { state: 'claimed', owner: String(item.owner), claimUntil: Number(item.claimUntil) };
  if (item.state === 'rejected') return { state: 'rejected', errcode: Number(item.errcode), errmsg: String(item.errmsg ?? '') };
  if (item.state !== 'exchanged' || typeof item.authorization !== 'object' || item.authorization === null) return undefined;
  return {
    state: 'exchanged',
    authorization: toAuthorization(item.authorization as Record<string, unknown>),
    exchangedAt: Number(item.exchangedAt),
    cachedAt: Number(item.cachedAt ?? item.exchangedAt),
    ...(typeof item.appliedAt === 'number' ? { appliedAt: item.appliedAt } : {}),
  };
};

/** What is known about a code, read consistently; undefined when nothing is (or the item has expired). */
export const getCodeState = async (deps: StoreDeps, code: string): Promise<CodeState | undefined> => {
  const { Item: item } = await deps.doc.send(new GetCommand({ TableName: deps.tableName, Key: codeKey(code), ConsistentRead: true }));
  if (!item || typeof item.expiresAt !== 'number' || item.expiresAt <= nowSeconds(deps.clock)) return undefined;
  return fromItem(item);
};

const CODE_CLAIM: ClaimKind = { until: 'claimUntil', state: 'claimed' };

/**
 * Claims the right to exchange the code for `claimMs`. True when claimed: nobody else holds a live claim,
 * and the code has no stored result. A result or a rejection always wins over a new claim.
 */
export const claimCode = async (deps: StoreDeps, code: string, owner: string, claimMs: number): Promise<boolean> => {
  const item = { expiresAt: nowSeconds(deps.clock) + CODE_TTL_S };
  return (await takeClaim(deps, CODE_CLAIM, { key: codeKey(code), owner, until: deps.clock() + claimMs, item })).claimed;
};

const finishClaim = async (deps: StoreDeps, code: string, owner: string, outcome: Record<string, unknown>): Promise<void> => {
  const settled = await settleClaim(deps, CODE_CLAIM, codeKey(code), owner, { ...outcome, expiresAt: nowSeconds(deps.clock) + CODE_TTL_S });
  if (!settled) throw new CodeClaimLostError('the claim on the code was taken over');
};

/**
 * Stores the exchange's result in place of our claim; `exchangedAt` (epoch s) is when api_query_auth was called.
 * Throws CodeClaimLostError if the claim is no longer ours.
 */
export const saveCodeResult = (deps: StoreDeps, code: string, owner: string, authorization: AuthorizationInfo, exchangedAt: number): Promise<void> =>
  finishClaim(deps, code, owner, { state: 'exchanged', authorization: { ...authorization }, exchangedAt, cachedAt: nowSeconds(deps.clock) });

/** Records that WeChat refused the code for good, so waiters fail at once instead of spending it again. */
export const saveCodeRejection = (deps: StoreDeps, code: string, owner: string, rejection: { errcode: number; errmsg: string }): Promise<void> =>
  finishClaim(deps, code, owner, { state: 'rejected', errcode: rejection.errcode, errmsg: rejection.errmsg });

/** Gives our claim up (the exchange failed in a way another attempt may fix). No-op if it is not ours. */
export const releaseCode = async (deps: StoreDeps, code: string, owner: string): Promise<void> => {
  await dropClaim(deps, CODE_CLAIM, codeKey(code), owner);
};

/** Notes that the result has been stored on the authorizer's profile; later readers need not store it again. */
export const markCodeApplied = async (deps: StoreDeps, code: string): Promise<void> => {
  // Someone else's state (or none) fails the condition: nothing of ours to change.
  await conditionMet(() =>
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: codeKey(code),
        UpdateExpression: 'SET appliedAt = :now',
        ConditionExpression: '#state = :exchanged AND attribute_not_exists(appliedAt)',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':exchanged': 'exchanged', ':now': nowSeconds(deps.clock) },
      }),
    ),
  );
};
