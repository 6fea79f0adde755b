// Every time bound of the platform, each derived from what it must cover, so none is re-derived or justified
// against serverless.yml in a comment only. Pure numbers (epoch-free milliseconds): the WeChat client, the
// store clients, the token leases, the code and delivery claims, the waits, and what each function needs
// from its timeout. tests/integration/template.test.ts holds the packaged timeouts to FUNCTION_NEEDS_MS.

// The WeChat client (lib/wechat/client.ts).
/** One attempt, connect to last body byte. */
export const WECHAT_ATTEMPT_MS = 5_000;
/** Retries after the first attempt (errcode -1, a request never sent, and for most APIs an ambiguous failure). */
export const WECHAT_MAX_RETRIES = 2;
/** Full-jitter backoff: retry n waits random(0, WECHAT_RETRY_BASE_MS * 2^(n-1)). */
export const WECHAT_RETRY_BASE_MS = 200;
/** The longest one WeChat call takes: every attempt timing out, and the longest backoff before each retry. 15.6 s. */
export const WECHAT_CALL_BUDGET_MS = (WECHAT_MAX_RETRIES + 1) * WECHAT_ATTEMPT_MS + WECHAT_RETRY_BASE_MS * (2 ** WECHAT_MAX_RETRIES - 1);

// The AWS clients (lib/runtime/deps.ts): a stuck socket must fail and be retried, not hold a push past
// WeChat's 5 s or a lease past its end.
export const DYNAMODB_CONNECT_MS = 1_000;
export const DYNAMODB_REQUEST_MS = 5_000;
export const DYNAMODB_MAX_ATTEMPTS = 3;
/** The push paths (ticket, message): one stuck attempt costs 1 s, so every attempt stuck still fails inside WeChat's 5 s. */
export const DYNAMODB_PUSH_CONNECT_MS = 500;
export const DYNAMODB_PUSH_REQUEST_MS = 1_000;
/** Bounded so a cold start of `ticket` still answers inside WeChat's 5 s. */
export const SSM_CONNECT_MS = 1_000;
export const SSM_REQUEST_MS = 2_000;
export const SSM_MAX_ATTEMPTS = 3;
/** DynamoDB reads and writes around one WeChat call (the SDK absorbs short throttling with its own retries). */
export const STORE_SLACK_MS = 3_000;

// Token leases (lib/tokens).
/** A normal refresh ends within a second; after this a follower answers TokenBusyError instead of waiting on. */
export const FOLLOWER_MAX_WAIT_MS = 12_000;
/** How followers poll the token and its lease (lib/kernel/wait.ts). */
export const TOKEN_POLL = { pollMinMs: 150, pollMaxMs: 1_000 } as const;
/** A component token holder reads the ticket, makes one api_component_token call and stores the token. 18.6 s. */
export const COMPONENT_LEASE_MS = WECHAT_CALL_BUDGET_MS + STORE_SLACK_MS;
/** The longest getting the component token takes: a follower's whole wait, then holding a dead holder's lease. 30.6 s. */
export const COMPONENT_ACQUIRE_MS = FOLLOWER_MAX_WAIT_MS + COMPONENT_LEASE_MS;
/**
 * One step of an authorizer token holder: getting the component token, one WeChat call and its writes. 49.2 s.
 * The holder renews its lease before every further call, so no 61023 recovery chain outlives it.
 */
export const AUTHORIZER_LEASE_MS = COMPONENT_ACQUIRE_MS + WECHAT_CALL_BUDGET_MS + STORE_SLACK_MS;

// Authorization codes (lib/authorization, lib/store/codes.ts).
/**
 * A code claim covers one api_query_auth call and its writes with room to spare (18.6 s needed). A claimant
 * that must first wait for the component token can outlive it; the code's second exchange then meets 61009,
 * which an authorization push recovers from (lib/authorization/pushes.ts).
 */
export const CODE_CLAIM_MS = 30_000;
/** How a caller polls for another's exchange: a normal one ends within a second. */
export const CODE_POLL = { pollMinMs: 150, pollMaxMs: 1_000 } as const;
/** How long after an exchange its claimant is presumed to be storing the result (then anyone may). */
export const CODE_APPLY_WINDOW_MS = 5_000;
/** The landing page waits this long for a push consumer already exchanging the same code. */
export const LANDING_WAIT_MS = 6_000;
/** The `authorized` function waits this long for a code another request is exchanging (push or release test). */
export const CODE_EXCHANGE_WAIT_MS = 20_000;

// Message deliveries (lib/intake/account-message.ts, lib/store/deliveries.ts).
/** The message function's timeout: a live handler is never taken over, one that died is, by a later retry. */
export const MESSAGE_HANDLING_MS = 10_000;
/**
 * A retry that finds the delivery in flight waits past WeChat's 5 s: meanwhile WeChat gives up on this attempt
 * and sends its next one, so a delivery whose first handler died is still handled. Within the 10 s timeout.
 */
export const DELIVERY_WAIT = { maxWaitMs: 7_000, pollMinMs: 250, pollMaxMs: 1_000 } as const;

// Rollouts (lib/fleet).
/** The most a rollout step holds its claim for: the account's token (wait, then hold its lease), one WeChat call, the writes. 79.8 s. */
export const ROLLOUT_CALL_MS = FOLLOWER_MAX_WAIT_MS + AUTHORIZER_LEASE_MS + WECHAT_CALL_BUDGET_MS + STORE_SLACK_MS;
/**
 * A rollout claim: past it the sweep takes the step over (reading WeChat's state first). Renewed before each further
 * call. One call with half as much again to spare, in whole seconds: 120 s.
 */
export const ROLLOUT_CLAIM_MS = Math.ceil((ROLLOUT_CALL_MS * 1.5) / 1000) * 1000;

/**
 * What each function needs from its timeout for one unit of work (a request, a stream record, an account),
 * on its longest path: waiting for another holder, then holding the longest lease or claim it can hold, plus
 * the WeChat calls it makes outside that hold. A function cut off while holding wastes what it held (a minted
 * token never stored, a code spent) and leaves the lease or claim blocking until it runs out.
 */
export const FUNCTION_NEEDS_MS = {
  ticket: STORE_SLACK_MS,
  message: DELIVERY_WAIT.maxWaitMs + STORE_SLACK_MS,
  // The start page: the component token (wait, then hold its lease), then api_create_preauthcode. The landing
  // page: wait for a push consumer, hold the code claim, then api_get_authorizer_info.
  authorize: Math.max(COMPONENT_ACQUIRE_MS + WECHAT_CALL_BUDGET_MS, LANDING_WAIT_MS + CODE_CLAIM_MS + WECHAT_CALL_BUDGET_MS) + STORE_SLACK_MS,
  // A release-test task: wait for and hold the code claim, api_get_authorizer_info, the text with the exchange's
  // token, then the account's stored token (wait, then hold its lease) and the text again. Per record.
  authorized:
    CODE_EXCHANGE_WAIT_MS +
    CODE_CLAIM_MS +
    2 * WECHAT_CALL_BUDGET_MS +
    FOLLOWER_MAX_WAIT_MS +
    AUTHORIZER_LEASE_MS +
    WECHAT_CALL_BUDGET_MS +
    STORE_SLACK_MS,
  // One account's refresh holds its lease (the scheduled refresh never waits for another holder).
  refresh: COMPONENT_LEASE_MS + AUTHORIZER_LEASE_MS + STORE_SLACK_MS,
  // A follower's whole wait, then holding the authorizer lease for one step.
  token: FOLLOWER_MAX_WAIT_MS + AUTHORIZER_LEASE_MS + STORE_SLACK_MS,
  // One user's exchange: the component token (wait, then hold its lease), then one WeChat call.
  login: COMPONENT_ACQUIRE_MS + WECHAT_CALL_BUDGET_MS + STORE_SLACK_MS,
  // The longest action holds what `token` holds, then makes its own WeChat call.
  admin: FOLLOWER_MAX_WAIT_MS + AUTHORIZER_LEASE_MS + WECHAT_CALL_BUDGET_MS + STORE_SLACK_MS,
  // One account's step: its token, then up to three WeChat calls (commit, privacy guideline, submission), each under a
  // claim renewed before it. A batch runs 20 accounts at once; one cut off midway leaves claims the sweep recovers.
  fleet: FOLLOWER_MAX_WAIT_MS + AUTHORIZER_LEASE_MS + 3 * WECHAT_CALL_BUDGET_MS + STORE_SLACK_MS,
  // Delivery holds nothing: one batch of PutEvents calls (the client's own retries) and the failure report.
  events: 10 * STORE_SLACK_MS,
} as const;
