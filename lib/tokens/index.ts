// The token service: the one way code in this project gets a WeChat access token (DESIGN.md §1 `token`).
// Tokens live in the table, never in memory; each is obtained from WeChat at most once per lifetime across
// all Lambdas (single-flight.ts), and a token WeChat rejects is expired only if it is still the stored one.
// This module is the public face; the parts live in the modules it re-exports.
export {
  COMPONENT_ACQUIRE_MS,
  COMPONENT_FLIGHT,
  componentLease,
  FOLLOWER_MAX_WAIT_MS,
  getComponentAccessToken,
  refreshComponentTokenIfDue,
  STORE_SLACK_MS,
  TOKEN_MARGIN_S,
  WECHAT_CALL_BUDGET_MS,
  withComponentToken,
} from './component-token.ts';
export {
  AUTHORIZER_FLIGHT,
  authorizerLease,
  getAuthorizerAccessToken,
  refreshAuthorizerTokenIfDue,
  withAuthorizerToken,
} from './authorizer-token.ts';
export { findListedRefreshToken } from './authorizer-refresh.ts';
export { AUTHORIZER_LIST_PAGE, sharedAuthorizerList, walkAuthorizerList, type ListedRefreshTokens } from './authorizer-list.ts';
export type { DueOutcome, FlightOptions, Renew } from './single-flight.ts';
export {
  AuthorizerNotFoundError,
  AuthorizerUnauthorizedError,
  MissingTicketError,
  NeedsReauthError,
  NoRefreshTokenError,
  TicketInvalidError,
  TokenBusyError,
  TokenRefreshFailedError,
  TokenServiceError,
} from './errors.ts';
export type { AccessToken } from '../store/tokens.ts';
