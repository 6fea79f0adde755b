// The composition root shared by every function: configuration and secrets are resolved on the first
// invocation (not at import, so a bad variable is a clear invocation error rather than a hung `sls invoke
// local`), dependencies are built once per container and rebuilt only when the secrets change. The edge
// (how errors become this kind of function's answers) wraps the handler, with the logger and the
// secrets-stale callback of this container.
import middy, { type MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import { createLogger, type Logger } from '../kernel/logger.ts';
import { sourceStack } from '../kernel/stack-trace.ts';
import { loadConfig, type ComponentSecrets, type Config } from './config.ts';
import { createSsmClient } from './deps.ts';
import { loadSecrets, type SecretsSource } from './secrets.ts';
import { createSsmSecretsSource } from './ssm-secrets.ts';

export type DepsBuilder<D> = (config: Config, secrets: ComponentSecrets) => D;
export type HandlerFactory<D, E, R> = (deps: D) => (event: E, context: Context) => Promise<R>;

/** What an edge gets from the container it runs in. */
export interface EdgeContext {
  /** The container's logger: at LOG_LEVEL once the configuration loaded, at info before (a ConfigError is logged too). */
  readonly logger: () => Logger;
  /** A request failed its signature check: the next invocation refetches the secrets (a rotated token or key). */
  readonly secretsStale: () => void;
}

/** How errors become one edge kind's answers (lib/runtime/http.ts, lib/runtime/invoke.ts). */
export type Edge<E, R> = (context: EdgeContext) => MiddlewareObj<E, R>;

export interface LambdaOptions<E, R> {
  /** The function's edge; none for the stream consumer, whose dispatch answers per record (lib/stream). */
  edge?: Edge<E, R>;
  /** Where secrets come from when the environment has none; default SSM (lib/runtime/ssm-secrets.ts). */
  secretsSource?: SecretsSource;
}

// The default source for every handler in this container, so handlers need not name it. Creating it constructs
// nothing: the SSM client is built on its first fetch, which never happens while the environment holds the secrets.
let ssmSource: SecretsSource | undefined;
const defaultSecretsSource = (): SecretsSource => (ssmSource ??= createSsmSecretsSource({ client: () => createSsmClient() }));

/**
 * An error no edge answered reaches the Lambda runtime, which logs it with its stack: that stack is put in the
 * sources first (lib/kernel/stack-trace.ts), as --enable-source-maps did. Used before the edge, so it runs after it
 * (middy runs onError handlers last used first) and sees whether the edge answered.
 */
const sourceStacks = <E, R>(): MiddlewareObj<E, R> => ({
  onError: (request) => {
    const error = request.error;
    if (request.response !== undefined || !(error instanceof Error) || typeof error.stack !== 'string') return;
    try {
      error.stack = sourceStack(error.stack);
    } catch {
      // A frozen error keeps the stack it has.
    }
  },
});

/** `fn` behind `edge`, as lambda() runs it; tests call it with their own deps' handler and logger. */
export const withEdge = <E, R>(fn: (event: E, context: Context) => Promise<R>, edge: Edge<E, R> | undefined, context: EdgeContext) => {
  const handler = middy<E, R>(fn, { timeoutEarlyInMillis: 0 }).use(sourceStacks());
  if (edge) handler.use(edge(context));
  return handler;
};

/** Wraps a handler factory into the deployed Lambda handler. Tests call the factory directly. */
export const lambda = <D, E, R>(build: DepsBuilder<D>, factory: HandlerFactory<D, E, R>, options: LambdaOptions<E, R> = {}) => {
  let config: Config | undefined;
  let logger = createLogger();
  let stale = false;
  let built: { secrets: ComponentSecrets; fn: (event: E, context: Context) => Promise<R> } | undefined;
  const core = async (event: E, context: Context): Promise<R> => {
    if (!config) {
      config = loadConfig();
      logger = createLogger({ level: config.logLevel });
    }
    const refresh = stale;
    stale = false;
    const secrets = await loadSecrets(config, options.secretsSource ?? defaultSecretsSource(), refresh);
    if (!built || built.secrets !== secrets) built = { secrets, fn: factory(build(config, secrets)) };
    return built.fn(event, context);
  };
  return withEdge(core, options.edge, { logger: () => logger, secretsStale: () => (stale = true) });
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
  ).use(sourceStacks());
};
