import { ConfigError } from '../kernel/errors.ts';
import type { LogLevel } from '../kernel/logger.ts';

/** The component's console credentials. In AWS they come from SSM SecureStrings, locally from env. */
export interface ComponentSecrets {
  readonly appSecret: string;
  /** 消息校验Token */
  readonly token: string;
  /** 消息加解密Key: 43 characters of [A-Za-z0-9] */
  readonly encodingAesKey: string;
}

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
  readonly logLevel: LogLevel;
  /** AWS_REGION (Lambda sets it); a local DynamoDB endpoint gets `local` when it is unset. */
  readonly awsRegion: string | undefined;
  /** Whether AWS_ACCESS_KEY_ID is set; when not, a local DynamoDB endpoint gets placeholder credentials. */
  readonly awsCredentialsInEnv: boolean;
  /** In AWS: the SSM path holding the secrets (used when no secret is set in the environment). */
  readonly ssmParameterPath: string | undefined;
  /** Present when the secrets came from the environment (local runs, tests). */
  readonly secrets: ComponentSecrets | undefined;
}

export type Env = Readonly<Record<string, string | undefined>>;

const APPID = /^wx[0-9a-f]{16}$/i;
const AES_KEY = /^[A-Za-z0-9]{43}$/;
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

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

/** Checks the secret values' shapes; names the variable, never echoes the value. */
export const secretProblems = (
  secrets: Partial<ComponentSecrets>,
  names: Readonly<Record<keyof ComponentSecrets, string>> = SECRET_ENV,
): string[] => {
  const problems: string[] = [];
  if (!secrets.appSecret) problems.push(`${names.appSecret} is missing`);
  if (!secrets.token) problems.push(`${names.token} is missing`);
  else if (!/^[A-Za-z0-9]{3,32}$/.test(secrets.token)) problems.push(`${names.token} must be 3-32 letters or digits`);
  if (!secrets.encodingAesKey) problems.push(`${names.encodingAesKey} is missing`);
  else if (!AES_KEY.test(secrets.encodingAesKey)) problems.push(`${names.encodingAesKey} must be 43 letters or digits`);
  return problems;
};

const SECRET_ENV = {
  appSecret: 'COMPONENT_APPSECRET',
  token: 'COMPONENT_TOKEN',
  encodingAesKey: 'COMPONENT_ENCODING_AES_KEY',
} as const;

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
  const levelRaw = (nonEmpty(env, 'LOG_LEVEL') ?? 'info').toLowerCase() as LogLevel;
  if (!LOG_LEVELS.includes(levelRaw)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  const awsRegion = nonEmpty(env, 'AWS_REGION');
  if (awsRegion !== undefined && !/^[a-z0-9-]{1,32}$/.test(awsRegion)) problems.push('AWS_REGION must look like ap-east-1');
  const ssmParameterPath = nonEmpty(env, 'SSM_PARAMETER_PATH');
  const fromEnv = Object.values(SECRET_ENV).some((name) => nonEmpty(env, name) !== undefined);
  let secrets: ComponentSecrets | undefined;
  // Secrets set in the environment win (local runs); in AWS none are set and SSM_PARAMETER_PATH names them.
  if (fromEnv || ssmParameterPath === undefined) {
    const candidate = {
      appSecret: nonEmpty(env, SECRET_ENV.appSecret) ?? '',
      token: nonEmpty(env, SECRET_ENV.token) ?? '',
      encodingAesKey: nonEmpty(env, SECRET_ENV.encodingAesKey) ?? '',
    };
    problems.push(...secretProblems(candidate));
    secrets = candidate;
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
    logLevel: LOG_LEVELS.includes(levelRaw) ? levelRaw : 'info',
    awsRegion,
    awsCredentialsInEnv: nonEmpty(env, 'AWS_ACCESS_KEY_ID') !== undefined,
    ssmParameterPath,
    secrets,
  });
};
