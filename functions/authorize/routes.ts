// What the authorize function's two routes do; the handler maps their errors to pages (pages.ts describeFailure).
import { completeAuthorization } from '../../lib/authorization/exchange.ts';
import { LinkRefusedError, verifyLink, verifyState } from '../../lib/authorization/links.ts';
import { startAuthorization } from '../../lib/authorization/start.ts';
import { nowSeconds } from '../../lib/kernel/clock.ts';
import { LANDING_WAIT_MS } from '../../lib/kernel/limits.ts';
import type { HttpEvent } from '../../lib/runtime/http.ts';
import type { WeChatDeps } from '../../lib/runtime/wechat-deps.ts';
import { forgetLinkPreAuthCode } from '../../lib/store/links.ts';
import { renderAuthorizedPage, renderPushCompletesPage, renderStartPage } from './pages.ts';
import { LANDING_PATH, parseLandingQuery, refusal } from './request.ts';

const AUTH_TYPES = { 1: 'official account', 2: 'mini program', 3: 'official account or mini program' } as const;

/** The landing page: completes the authorization for a valid state; without one it calls nobody. */
export const landingPage = async (deps: WeChatDeps, event: HttpEvent): Promise<string> => {
  const query = event.queryStringParameters;
  const state = (() => {
    try {
      return verifyState(deps.secrets.linkSigningKey, query?.state, nowSeconds(deps.clock));
    } catch (error) {
      if (!(error instanceof LinkRefusedError)) throw error;
      deps.logger.info('authorize.landing_without_state', refusal(error, event.rawPath));
      return undefined;
    }
  })();
  if (!state) return renderPushCompletesPage();
  const { authorizationCode, expiresIn } = parseLandingQuery(query);
  // No authorizedAt: the exchange's time stands for it (an old URL reloaded must not look like a new authorization).
  const codeExpiresAt = nowSeconds(deps.clock) + expiresIn;
  const done = await completeAuthorization(deps, {
    authorizationCode,
    codeExpiresAt,
    waitMs: LANDING_WAIT_MS,
    ...(state.tenant ? { tenant: state.tenant } : {}),
  });
  // WeChat spent the link's pre_auth_code: its next view gets a fresh one. Best effort: the authorization is stored,
  // and the `authorized` push retires the code too.
  await forgetLinkPreAuthCode(deps, state.linkId).catch((error: unknown) =>
    deps.logger.warn('authorize.link_code_kept', { linkId: state.linkId }, error),
  );
  return renderAuthorizedPage(done);
};

/** The start page for a verified signed link; LinkRefusedError (a 403 page) for anything else. */
export const startPage = async (deps: WeChatDeps, event: HttpEvent): Promise<string> => {
  const link = verifyLink(deps.secrets.linkSigningKey, event.queryStringParameters?.link, nowSeconds(deps.clock));
  const links = await startAuthorization(deps, link, `${deps.config.publicBaseUrl}${LANDING_PATH}`);
  const bizAppid = link.bizAppid ? { bizAppid: link.bizAppid } : {};
  return renderStartPage({ ...links, ...bizAppid, expiresInS: links.expiresIn, authTypeLabel: AUTH_TYPES[link.authType] });
};
