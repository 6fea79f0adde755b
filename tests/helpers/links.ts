// Signed links and landing states for tests that drive the authorize pages directly, signed with the tests'
// link key (TEST_LINK_SIGNING_KEY, which simulatorDeps and localInvokeEnv hand the functions).
import { landingQuery } from '../../infra/local/simulator/index.ts';
import { newLinkId, signLink, signState, type LinkClaims } from '../../lib/authorization/links.ts';
import { TEST_LINK_SIGNING_KEY } from './sls.ts';

/** Epoch seconds on the platform's clock: tests that move time pass theirs, so a link is valid at the platform's now. */
export interface SignOptions {
  readonly nowS?: number;
  readonly key?: string;
}
const inAnHour = (o: SignOptions) => (o.nowS ?? Math.floor(Date.now() / 1000)) + 3600;

/** `?link=…` for the start page: a link the operator's console could have issued. */
export const signedStartQuery = (claims: Partial<LinkClaims> = {}, o: SignOptions = {}): string =>
  `?link=${signLink(o.key ?? TEST_LINK_SIGNING_KEY, { linkId: newLinkId(), authType: 3, expiresAt: inAnHour(o), ...claims })}`;

/** WeChat's landing query for `code` on a redirect_uri that carried a valid state (as the start page puts it there). */
export const signedLandingQuery = (code: string, o: SignOptions = {}): string =>
  `${landingQuery(code)}&state=${signState(o.key ?? TEST_LINK_SIGNING_KEY, { linkId: newLinkId(), expiresAt: inAnHour(o) })}`;
