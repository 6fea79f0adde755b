// Where the component's console credentials come from: the environment locally and in tests, SSM
// Parameter Store SecureStrings in AWS (one GetParameters call per cold start, cached, refetched after a
// signature failure so a rotated token or key is picked up: lib/runtime/lambda.ts asks with `refresh`).
import type { ComponentSecrets, Config } from './config.ts';
import { ConfigError } from '../kernel/errors.ts';

export interface SecretsSource {
  /** Returns the current secrets; `refresh` forces a fetch past the cache. */
  get(config: Config, refresh?: boolean): Promise<ComponentSecrets>;
}

/** The secrets from the environment when set there, else from `source` (past its cache when `refresh`). */
export const loadSecrets = async (config: Config, source: SecretsSource | undefined, refresh = false): Promise<ComponentSecrets> => {
  if (config.secrets) return config.secrets;
  if (!source) throw new ConfigError(['no secrets in the environment and no SSM source configured']);
  return source.get(config, refresh);
};
