// The secrets from SSM Parameter Store SecureStrings (docs/architecture.md §4): the parameters this function holds
// (config.secretNames) under SSM_PARAMETER_PATH, fetched with ONE GetParameters call (WithDecryption) per container, cached, and
// fetched again when a push failed its signature check (lib/runtime/http.ts → secretsStale → lib/runtime/lambda.ts asks with refresh), so a
// token or key rotated in the console and in SSM is picked up without a redeploy.
//
// Why not @middy/ssm (the design's first idea, not a dependency): it needs the parameter names when the handler
// module is loaded, runs on every invocation as a `before` middleware even where the secrets come from the
// environment (every local run and test), builds its own SSMClient (only lib/runtime/deps.ts constructs clients), and
// its cache can only be cleared through a module-global of @middy/util. lib/runtime/lambda.ts resolves configuration
// lazily on the first invocation and asks a SecretsSource only when the environment has no secrets, so a
// small SecretsSource over the same GetParameters call fits it exactly, with nothing AWS at import.
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { Clock } from '../kernel/clock.ts';
import { heldSecrets, secretProblems, SSM_PARAMETER_NAMES, type ComponentSecrets, type Config, type SecretName } from './config.ts';
import { ConfigError } from '../kernel/errors.ts';
import { protectSecret } from '../kernel/logger.ts';
import type { SecretsSource } from './secrets.ts';

/** A forced refetch at most this often: forged pushes (each one fails its signature) must not become SSM calls. */
export const MIN_REFRESH_INTERVAL_MS = 30_000;

export interface SsmSecretsOptions {
  /** Builds the client on first use (lib/runtime/deps.ts createSsmClient); never called while the cache answers. */
  client: () => SSMClient | Promise<SSMClient>;
  clock?: Clock;
  minRefreshIntervalMs?: number;
}

/** The full parameter name of each secret under `path`, e.g. /wechat-component/prod/app-secret (docs/operations.md §1). */
export const ssmParameterNames = (path: string): Record<SecretName, string> => {
  const base = path.replace(/\/+$/, '');
  const names = Object.entries(SSM_PARAMETER_NAMES).map(([key, name]) => [key, `${base}/${name}`]);
  return Object.fromEntries(names) as Record<SecretName, string>;
};

/** One GetParameters call for exactly the secrets this function holds (its role may read no other). */
const fetchSecrets = async (client: SSMClient, path: string, held: readonly SecretName[]): Promise<ComponentSecrets> => {
  // Loaded on first use only: local runs and tests never evaluate the SSM SDK.
  const { GetParametersCommand } = await import('./ssm-sdk.ts');
  const names = ssmParameterNames(path);
  const out = await client.send(new GetParametersCommand({ Names: held.map((n) => names[n]), WithDecryption: true }));
  const byName = new Map((out.Parameters ?? []).map((p) => [p.Name, p]));
  const problems: string[] = [];
  const candidate: Partial<Record<SecretName, string>> = {};
  for (const key of held) {
    const parameter = byName.get(names[key]);
    if (parameter && parameter.Type !== 'SecureString') problems.push(`SSM parameter ${names[key]} must be a SecureString`);
    protectSecret(parameter?.Value);
    candidate[key] = parameter?.Value?.trim() ?? '';
  }
  problems.push(...secretProblems(candidate, names, held).map((p) => `SSM parameter ${p}`));
  if (problems.length > 0) throw new ConfigError(problems);
  return heldSecrets(candidate, held);
};

const sameSecrets = (a: ComponentSecrets, b: ComponentSecrets, held: readonly SecretName[]): boolean => held.every((n) => a[n] === b[n]);

/** A SecretsSource on SSM GetParameters; one per container (lib/runtime/lambda.ts keeps it for the module's life). */
export const createSsmSecretsSource = (options: SsmSecretsOptions): SecretsSource => {
  const clock = options.clock ?? Date.now;
  const minInterval = options.minRefreshIntervalMs ?? MIN_REFRESH_INTERVAL_MS;
  let client: Promise<SSMClient> | undefined;
  let cached: { path: string; secrets: ComponentSecrets; fetchedAt: number } | undefined;
  let inflight: Promise<ComponentSecrets> | undefined;

  const refetch = async (path: string, held: readonly SecretName[]): Promise<ComponentSecrets> => {
    client ??= Promise.resolve(options.client());
    const secrets = await fetchSecrets(await client, path, held);
    // Unchanged values keep their identity, so lib/runtime/lambda.ts does not rebuild the deps for nothing.
    const kept = cached && cached.path === path && sameSecrets(cached.secrets, secrets, held) ? cached.secrets : secrets;
    cached = { path, secrets: kept, fetchedAt: clock() };
    return kept;
  };

  return {
    get: async (config: Config, refresh = false) => {
      const path = config.ssmParameterPath;
      if (!path) throw new ConfigError(['SSM_PARAMETER_PATH is missing (no secrets in the environment)']);
      const current = cached && cached.path === path ? cached : undefined;
      if (current && (!refresh || clock() - current.fetchedAt < minInterval)) return current.secrets;
      inflight ??= refetch(path, config.secretNames).finally(() => {
        inflight = undefined;
      });
      // A forced refetch that fails (SSM throttled or down) must not fail a genuine push we can still verify.
      return current ? inflight.catch(() => current.secrets) : inflight;
    },
  };
};
