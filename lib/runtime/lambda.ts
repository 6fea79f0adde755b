// The composition root shared by every function: configuration and secrets are resolved on the first
// invocation (not at import, so a bad variable is a clear invocation error rather than a hung `sls invoke
// local`), dependencies are built once per container and rebuilt only when the secrets change.
import middy, { type MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import { loadConfig, type ComponentSecrets, type Config } from './config.ts';
import { createSsmClient } from './deps.ts';
import { createLogger } from '../kernel/logger.ts';
import { loadSecrets, type SecretsSource } from './secrets.ts';
import { createSsmSecretsSource } from './ssm-secrets.ts';

export type DepsBuilder<D> = (config: Config, secrets: ComponentSecrets) => D;
export type HandlerFactory<D, E, R> = (deps: D) => (event: E, context: Context) => Promise<R>;

export interface LambdaOptions<E, R> {
  /** Extra middy middlewares for this event and result type (e.g. the HTTP error boundary). */
  middlewares?: MiddlewareObj<E, R>[];
  /** Where secrets come from when the environment has none; default SSM (lib/runtime/ssm-secrets.ts). */
  secretsSource?: SecretsSource;
}

// The default source for every handler in this container, so handlers need not name it. Creating it constructs
// nothing: the SSM client is built on its first fetch, which never happens while the environment holds the secrets.
let ssmSource: SecretsSource | undefined;
const defaultSecretsSource = (): SecretsSource => (ssmSource ??= createSsmSecretsSource({ client: () => createSsmClient() }));

/** Wraps a handler factory into the deployed Lambda handler. Tests call the factory directly. */
export const lambda = <D, E, R>(build: DepsBuilder<D>, factory: HandlerFactory<D, E, R>, options: LambdaOptions<E, R> = {}) => {
  let config: Config | undefined;
  let built: { secrets: ComponentSecrets; fn: (event: E, context: Context) => Promise<R> } | undefined;
  const core = async (event: E, context: Context): Promise<R> => {
    config ??= loadConfig();
    const secrets = await loadSecrets(config, options.secretsSource ?? defaultSecretsSource());
    if (!built || built.secrets !== secrets) built = { secrets, fn: factory(build(config, secrets)) };
    return built.fn(event, context);
  };
  const handler = middy<E, R>(core, { timeoutEarlyInMillis: 0 });
  for (const middleware of options.middlewares ?? []) handler.use(middleware);
  return handler;
};

/**
 * The same wrapper for a function that needs no component secrets (the `events` delivery): configuration only,
 * so its role reads no SSM parameter at all.
 */
export const lambdaWithoutSecrets = <D, E, R>(build: (config: Config) => D, factory: HandlerFactory<D, E, R>) => {
  let fn: ((event: E, context: Context) => Promise<R>) | undefined;
  return middy<E, R>(
    async (event: E, context: Context): Promise<R> => {
      fn ??= factory(build(loadConfig()));
      return fn(event, context);
    },
    { timeoutEarlyInMillis: 0 },
  );
};

/** A logger for the edge, usable before configuration is valid. */
export const edgeLogger = () => createLogger({ level: (process.env.LOG_LEVEL as 'info' | undefined) ?? 'info' });
