// Signed authorization links and landing states (docs/architecture.md §7). The operator's `authorizationLink`
// action signs a start-page link; the start page serves only links that verify, and puts a signed `state` in
// the redirect_uri so the landing page exchanges only codes that came through one of them. Both are
// `<payload>.<mac>`: base64url JSON and base64url HMAC-SHA256 under LINK_SIGNING_KEY, the MAC taken over the
// purpose and the payload (a state is never a valid link). Verification is pure and constant-time, and comes
// before any DynamoDB or WeChat work.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError } from '../kernel/errors.ts';
import { isAppId } from '../wechat/ids.ts';

/** The route of the start page (serverless.yml); a link is this URL with `?link=`. */
export const START_PAGE_PATH = '/wechat/component/authorize';

/** 1 official accounts, 2 mini programs, 3 both (PROTOCOL.md §1.8). */
export type AuthType = 1 | 2 | 3;

export interface LinkClaims {
  /** Random, unique per link: the pre_auth_code cache and the landing state refer to it. */
  readonly linkId: string;
  readonly tenant?: string;
  readonly authType: AuthType;
  readonly bizAppid?: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
}

export interface StateClaims {
  readonly linkId: string;
  readonly tenant?: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
}

/** Why a link or state was refused: for the log only; the page says the same thing for every reason. */
export class LinkRefusedError extends AppError {
  readonly reason: 'missing' | 'malformed' | 'signature' | 'expired';
  constructor(reason: LinkRefusedError['reason']) {
    super(`the authorization link is not valid (${reason})`);
    this.reason = reason;
  }
}

const MAX_TOKEN_LENGTH = 1024;
const MAC_BYTES = 32;
const B64URL = /^[A-Za-z0-9_-]+$/;
/** What a tenant may be: the operator's own id for the customer (letters, digits and `_ . : @ -`, at most 64). */
export const TENANT = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$/;
const LINK_ID = /^[A-Za-z0-9_-]{16,64}$/;

const mac = (key: string, purpose: 'link' | 'state', payload: string): Buffer => createHmac('sha256', key).update(`${purpose}.${payload}`).digest();

const sign = (key: string, purpose: 'link' | 'state', claims: Record<string, unknown>): string => {
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${payload}.${mac(key, purpose, payload).toString('base64url')}`;
};

/** The payload's JSON once its MAC is checked in constant time; throws LinkRefusedError otherwise. */
const open = (key: string, purpose: 'link' | 'state', token: string | undefined): Record<string, unknown> => {
  if (!token) throw new LinkRefusedError('missing');
  const [payload, given, extra] = token.split('.');
  if (token.length > MAX_TOKEN_LENGTH || extra !== undefined || !payload || !given || !B64URL.test(payload) || !B64URL.test(given)) {
    throw new LinkRefusedError('malformed');
  }
  const expected = mac(key, purpose, payload);
  const actual = Buffer.from(given, 'base64url');
  if (actual.length !== MAC_BYTES || !timingSafeEqual(actual, expected)) throw new LinkRefusedError('signature');
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    if (typeof claims === 'object' && claims !== null && !Array.isArray(claims)) return claims as Record<string, unknown>;
  } catch {
    // a payload we signed is always JSON: fall through
  }
  throw new LinkRefusedError('malformed');
};

const expiry = (claims: Record<string, unknown>, nowS: number): number => {
  if (typeof claims.e !== 'number' || !Number.isInteger(claims.e)) throw new LinkRefusedError('malformed');
  if (claims.e <= nowS) throw new LinkRefusedError('expired');
  return claims.e;
};

const common = (claims: Record<string, unknown>, nowS: number) => {
  const expiresAt = expiry(claims, nowS);
  if (claims.v !== 1 || typeof claims.id !== 'string' || !LINK_ID.test(claims.id)) throw new LinkRefusedError('malformed');
  if (claims.t !== undefined && (typeof claims.t !== 'string' || !TENANT.test(claims.t))) throw new LinkRefusedError('malformed');
  return { linkId: claims.id, ...(typeof claims.t === 'string' ? { tenant: claims.t } : {}), expiresAt };
};

/** A fresh link id: 16 random bytes. */
export const newLinkId = (): string => randomBytes(16).toString('base64url');

/** The `link` query value of a start-page URL. */
export const signLink = (key: string, claims: LinkClaims): string =>
  sign(key, 'link', { v: 1, id: claims.linkId, t: claims.tenant, a: claims.authType, b: claims.bizAppid, e: claims.expiresAt });

/** The claims of a link this platform signed and that has not expired; LinkRefusedError otherwise. */
export const verifyLink = (key: string, token: string | undefined, nowS: number): LinkClaims => {
  const claims = open(key, 'link', token);
  const base = common(claims, nowS);
  if (claims.a !== 1 && claims.a !== 2 && claims.a !== 3) throw new LinkRefusedError('malformed');
  if (claims.b !== undefined && (typeof claims.b !== 'string' || !isAppId(claims.b))) throw new LinkRefusedError('malformed');
  return { ...base, authType: claims.a, ...(typeof claims.b === 'string' ? { bizAppid: claims.b } : {}) };
};

/** The `state` query value the landing page's redirect_uri carries. */
export const signState = (key: string, claims: StateClaims): string =>
  sign(key, 'state', { v: 1, id: claims.linkId, t: claims.tenant, e: claims.expiresAt });

/** The claims of a landing state this platform signed and that has not expired; LinkRefusedError otherwise. */
export const verifyState = (key: string, token: string | undefined, nowS: number): StateClaims => common(open(key, 'state', token), nowS);
