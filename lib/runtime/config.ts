import { ConfigError } from '../kernel/errors.ts';
import type { LogLevel } from '../kernel/logger.ts';

/**
 * The component's console credentials and the platform's own link key. In AWS they come from SSM SecureStrings,
 * locally from env. A function holds only the ones its `SECRETS` names (serverless.yml, granted to its role alone,
 * infra/iam.yml); reading any other one throws a ConfigError naming it, never an empty string sent on.
 */
export interface ComponentSecrets {
  readonly appSecret: string;
  /** 消息校验Token */
  readonly token: string;
  /** 消息加解密Key: 43 characters of [A-Za-z0-9] */
  readonly encodingAesKey: string;
  /** HMAC key of the signed authorization links and landing states (lib/authorization/links.ts). */
  readonly linkSigningKey: string;
}

export type SecretName = keyof ComponentSecrets;

export interface Config {
  readonly componentAppId: string;
  readonly tableName: string;
  readonly wechatApiBaseUrl: string;
  readonly dynamodbEndpoint: string | undefined;
  readonly publicBaseUrl: string;
  /** Maximum age of a push's `timestamp` query parameter in seconds; 0 turns the check off. */
  readonly pushMaxSkewS: number;
  /** Parallel WeChat calls of one scheduled refresh run. */
  readonly refreshConcurrency: number;
  /**
   * REFRESH_WORKERS: how many runs one scheduled refresh spreads the schedule's shards over (1–16; the refresh
   * function starts the others by invoking itself asynchronously). Default 1: one run reads everything.
   */
  readonly refreshWorkers: number;
  /** AWS_ENDPOINT_URL_LAMBDA: a local Lambda endpoint (serverless-offline, the bench) for those invocations. */
  readonly lambdaEndpoint: string | undefined;
  readonly logLevel: LogLevel;
  /** AWS_REGION (Lambda sets it); a local DynamoDB endpoint gets `local` when it is unset. */
  readonly awsRegion: string | undefined;
  /** Whether AWS_ACCESS_KEY_ID is set; when not, a local DynamoDB endpoint gets placeholder credentials. */
  readonly awsCredentialsInEnv: boolean;
  /** In AWS: the SSM path holding the secrets (used when no secret is set in the environment). */
  readonly ssmParameterPath: string | undefined;
  /** The secrets this function holds (`SECRETS`, comma-separated SSM parameter names, e.g. `token,encoding-aes-key`). */
  readonly secretNames: readonly SecretName[];
  /** Present when the secrets came from the environment (local runs, tests). */
  readonly secrets: ComponentSecrets | undefined;
  /** The EventBridge bus events are delivered to (docs/events.md); only the `events` function needs it. */
  readonly eventBusName: string | undefined;
  /** Locally: the PutEvents-compatible endpoint `npm start` serves (AWS_ENDPOINT_URL_EVENTBRIDGE). */
  readonly eventBridgeEndpoint: string | undefined;
  /** The MsgTypes / `event:<Event>` / `*` that become `Account Message` events (ACCOUNT_MESSAGE_EVENTS, comma-separated). */
  readonly accountMessageEvents: readonly string[];
}

export type Env = Readonly<Record<string, string | undefined>>;

const APPID = /^wx[0-9a-f]{16}$/i;
const AES_KEY = /^[A-Za-z0-9]{43}$/;
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
/** A MsgType (`text`), every event (`event`), one event as WeChat spells it (`event:subscribe`), or `*`. */
const MESSAGE_SELECTOR = /^(\*|[a-z_]{1,32}|event:[A-Za-z0-9_.-]{1,64})$/;

const parseSelectors = (env: Env, problems: string[]): string[] => {
  const selectors = (nonEmpty(env, 'ACCOUNT_MESSAGE_EVENTS') ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  const bad = selectors.filter((selector) => !MESSAGE_SELECTOR.test(selector));
  if (bad.length > 0)
    problems.push(`ACCOUNT_MESSAGE_EVENTS has ${bad.length} invalid entr${bad.length === 1 ? 'y' : 'ies'}: use text, event, event:subscribe or *`);
  return selectors;
};

const nonEmpty = (env: Env, name: string): string | undefined => {
  const value = env[name]?.trim();
  return value ? value : undefined;
};

const parseUrl = (value: string, name: string, problems: string[]): string => {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') problems.push(`${name} must be an http(s) URL`);
  } catch {
    problems.push(`${name} is not a valid URL`);
  }
  return value.replace(/\/+$/, '');
};

const parseInteger = (env: Env, name: string, fallback: number, min: number, max: number, problems: string[]): number => {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push(`${name} must be an integer from ${min} to ${max}`);
    return fallback;
  }
  return value;
};

const SHAPES: Readonly<Record<SecretName, { readonly pattern: RegExp; readonly rule: string }>> = {
  appSecret: { pattern: /^\S+$/, rule: 'must not contain spaces' },
  token: { pattern: /^[A-Za-z0-9]{3,32}$/, rule: 'must be 3-32 letters or digits' },
  encodingAesKey: { pattern: AES_KEY, rule: 'must be 43 letters or digits' },
  // 32 random bytes, base64url: what `npm start` generates and docs/operations.md tells an operator to create.
  linkSigningKey: { pattern: /^[A-Za-z0-9_\-+/=]{32,256}$/, rule: 'must be 32-256 base64 characters (32 random bytes or more)' },
};

/** Checks the shapes of the secrets named in `only`; names the variable, never echoes the value. */
export const secretProblems = (
  secrets: Partial<ComponentSecrets>,
  names: Readonly<Record<SecretName, string>> = SECRET_ENV,
  only: readonly SecretName[] = COMPONENT_SECRETS,
): string[] =>
  only.flatMap((name) => {
    const value = secrets[name];
    if (!value) return [`${names[name]} is missing`];
    return SHAPES[name].pattern.test(value) ? [] : [`${names[name]} ${SHAPES[name].rule}`];
  });

export const SECRET_ENV: Readonly<Record<SecretName, string>> = {
  appSecret: 'COMPONENT_APPSECRET',
  token: 'COMPONENT_TOKEN',
  encodingAesKey: 'COMPONENT_ENCODING_AES_KEY',
  linkSigningKey: 'LINK_SIGNING_KEY',
};

/** The SSM parameter name of each secret below SSM_PARAMETER_PATH; also the words of `SECRETS`. */
export const SSM_PARAMETER_NAMES: Readonly<Record<SecretName, string>> = {
  appSecret: 'app-secret',
  token: 'token',
  encodingAesKey: 'encoding-aes-key',
  linkSigningKey: 'link-signing-key',
};

const COMPONENT_SECRETS: readonly SecretName[] = ['appSecret', 'token', 'encodingAesKey'];
const BY_SSM_NAME = new Map(Object.entries(SSM_PARAMETER_NAMES).map(([key, name]) => [name, key as SecretName]));

/** `SECRETS`; unset (tests, ad-hoc runs): the component's three, plus the link key when the environment has one. */
const parseSecretNames = (env: Env, problems: string[]): readonly SecretName[] => {
  const raw = nonEmpty(env, 'SECRETS');
  if (raw === undefined) return nonEmpty(env, SECRET_ENV.linkSigningKey) ? [...COMPONENT_SECRETS, 'linkSigningKey'] : COMPONENT_SECRETS;
  const words = raw.split(',').map((w) => w.trim());
  const unknown = words.filter((w) => !BY_SSM_NAME.has(w));
  if (unknown.length > 0) problems.push(`SECRETS names unknown secret(s): ${unknown.join(', ')} (known: ${[...BY_SSM_NAME.keys()].join(', ')})`);
  return [...new Set(words.flatMap((w) => BY_SSM_NAME.get(w) ?? []))];
};

/**
 * The secrets object a function receives: the `names` it holds as plain values, every other one a getter that
 * throws, so code reading a secret its function was not granted fails loudly (and enumerating the object, as
 * createDeps does to protect each value from the logs, sees only the held ones).
 */
export const heldSecrets = (values: Partial<ComponentSecrets>, names: readonly SecretName[]): ComponentSecrets => {
  const held: Record<string, string> = {};
  for (const name of names) held[name] = values[name] ?? '';
  for (const name of Object.keys(SECRET_ENV) as SecretName[]) {
    if (names.includes(name)) continue;
    Object.defineProperty(held, name, {
      enumerable: false,
      get: () => {
        throw new ConfigError([
          `this function does not hold ${SECRET_ENV[name]} (its SECRETS: ${names.map((n) => SSM_PARAMETER_NAMES[n]).join(', ')})`,
        ]);
      },
    });
  }
  return Object.freeze(held) as unknown as ComponentSecrets;
};

/**
 * Reads and validates every variable at once (docs/architecture.md §4). Throws one ConfigError naming every problem.
 * Secrets are required from the environment unless SSM_PARAMETER_PATH says where to fetch them.
 */
export const loadConfig = (env: Env = process.env): Readonly<Config> => {
  const problems: string[] = [];
  const componentAppId = nonEmpty(env, 'COMPONENT_APPID') ?? '';
  if (!componentAppId) problems.push('COMPONENT_APPID is missing');
  else if (!APPID.test(componentAppId)) problems.push('COMPONENT_APPID must look like wx followed by 16 hex digits');
  const tableName = nonEmpty(env, 'TABLE_NAME') ?? '';
  if (!tableName) problems.push('TABLE_NAME is missing');
  const wechatApiBaseUrl = parseUrl(nonEmpty(env, 'WECHAT_API_BASE_URL') ?? 'https://api.weixin.qq.com', 'WECHAT_API_BASE_URL', problems);
  const endpoint = nonEmpty(env, 'DYNAMODB_ENDPOINT');
  const dynamodbEndpoint = endpoint === undefined ? undefined : parseUrl(endpoint, 'DYNAMODB_ENDPOINT', problems);
  const publicRaw = nonEmpty(env, 'PUBLIC_BASE_URL');
  if (!publicRaw) problems.push('PUBLIC_BASE_URL is missing');
  const publicBaseUrl = publicRaw ? parseUrl(publicRaw, 'PUBLIC_BASE_URL', problems) : '';
  // 600 s by default; 0 (off) by default only under `sls invoke local`, the one runner that sets IS_LOCAL=true,
  // so the recorded sample events in tests/events/ keep working. An explicit PUSH_MAX_SKEW_S always wins.
  const pushMaxSkewS = parseInteger(env, 'PUSH_MAX_SKEW_S', env.IS_LOCAL === 'true' ? 0 : 600, 0, 86_400, problems);
  const refreshConcurrency = parseInteger(env, 'REFRESH_CONCURRENCY', 16, 1, 256, problems);
  const refreshWorkers = parseInteger(env, 'REFRESH_WORKERS', 1, 1, 16, problems);
  const lambdaRaw = nonEmpty(env, 'AWS_ENDPOINT_URL_LAMBDA');
  const lambdaEndpoint = lambdaRaw === undefined ? undefined : parseUrl(lambdaRaw, 'AWS_ENDPOINT_URL_LAMBDA', problems);
  const levelRaw = (nonEmpty(env, 'LOG_LEVEL') ?? 'info').toLowerCase() as LogLevel;
  if (!LOG_LEVELS.includes(levelRaw)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  const awsRegion = nonEmpty(env, 'AWS_REGION');
  if (awsRegion !== undefined && !/^[a-z0-9-]{1,32}$/.test(awsRegion)) problems.push('AWS_REGION must look like ap-east-1');
  const ssmParameterPath = nonEmpty(env, 'SSM_PARAMETER_PATH');
  const eventBusName = nonEmpty(env, 'EVENT_BUS_NAME');
  if (eventBusName !== undefined && !/^[A-Za-z0-9._\-/:]{1,256}$/.test(eventBusName))
    problems.push('EVENT_BUS_NAME is not a valid event bus name or ARN');
  const busEndpoint = nonEmpty(env, 'AWS_ENDPOINT_URL_EVENTBRIDGE');
  const eventBridgeEndpoint = busEndpoint === undefined ? undefined : parseUrl(busEndpoint, 'AWS_ENDPOINT_URL_EVENTBRIDGE', problems);
  const accountMessageEvents = parseSelectors(env, problems);
  const secretNames = parseSecretNames(env, problems);
  const fromEnv = Object.values(SECRET_ENV).some((name) => nonEmpty(env, name) !== undefined);
  let secrets: ComponentSecrets | undefined;
  // Secrets set in the environment win (local runs); in AWS none are set and SSM_PARAMETER_PATH names them.
  if (fromEnv || ssmParameterPath === undefined) {
    const candidate: Partial<Record<SecretName, string>> = {};
    for (const name of Object.keys(SECRET_ENV) as SecretName[]) {
      const value = nonEmpty(env, SECRET_ENV[name]);
      if (value !== undefined) candidate[name] = value;
    }
    problems.push(...secretProblems(candidate, SECRET_ENV, secretNames));
    secrets = heldSecrets(candidate, secretNames);
  } else if (!ssmParameterPath.startsWith('/')) {
    problems.push('SSM_PARAMETER_PATH must start with /');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    componentAppId,
    tableName,
    wechatApiBaseUrl,
    dynamodbEndpoint,
    publicBaseUrl,
    pushMaxSkewS,
    refreshConcurrency,
    refreshWorkers,
    lambdaEndpoint,
    logLevel: LOG_LEVELS.includes(levelRaw) ? levelRaw : 'info',
    awsRegion,
    awsCredentialsInEnv: nonEmpty(env, 'AWS_ACCESS_KEY_ID') !== undefined,
    ssmParameterPath,
    secretNames,
    secrets,
    eventBusName,
    eventBridgeEndpoint,
    accountMessageEvents,
  });
};
