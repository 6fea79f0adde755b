// The one world builder of the tests: configuration as loadConfig reads it for the simulator's component on a
// test table, and the deps the functions build from it (lib/runtime/deps.ts, wechat-deps.ts), with the test's
// own clock, logger, document client or WeChat client where it needs them.
import { simulatorEnv } from '../../infra/local/credentials.ts';
import type { Config } from '../../lib/runtime/config.ts';
import { loadConfig } from '../../lib/runtime/config.ts';
import { createDeps, type Deps, type DepsOverrides } from '../../lib/runtime/deps.ts';
import { createWeChatDeps, type WeChatDeps, type WeChatDepsOverrides } from '../../lib/runtime/wechat-deps.ts';
import type { TestTable } from './dynamo.ts';
import { TEST_LINK_SIGNING_KEY } from './sls.ts';

export interface WorldOptions {
  /** The WeChat API the deps call (the simulator's URL); default WeChat's own, for functions that never call it. */
  readonly wechatUrl?: string;
  readonly publicBaseUrl?: string;
  /** Further variables, as the deployed environment would set them. */
  readonly env?: Readonly<Record<string, string>>;
}

/** The configuration of the simulator's component on `table`. */
const worldConfig = (table: Pick<TestTable, 'tableName' | 'endpoint'>, options: WorldOptions = {}): Config =>
  loadConfig({
    ...simulatorEnv(),
    TABLE_NAME: table.tableName,
    DYNAMODB_ENDPOINT: table.endpoint,
    PUBLIC_BASE_URL: options.publicBaseUrl ?? 'http://127.0.0.1:3000',
    LINK_SIGNING_KEY: TEST_LINK_SIGNING_KEY,
    ...(options.wechatUrl ? { WECHAT_API_BASE_URL: options.wechatUrl } : {}),
    ...options.env,
  });

const secretsOf = (config: Config) => {
  if (!config.secrets) throw new Error('the simulator environment carries the secrets');
  return config.secrets;
};

/** Deps of the functions that never call WeChat, on `table`'s document client unless `overrides.doc`. */
export const worldDeps = (table: TestTable, options: WorldOptions & DepsOverrides = {}): Deps => {
  const config = worldConfig(table, options);
  return createDeps(config, secretsOf(config), { doc: table.doc, ...options });
};

/** Deps of the functions that call WeChat (the simulator at `wechatUrl`), on `table`'s document client unless `overrides.doc`. */
export const worldWeChatDeps = (table: TestTable, options: WorldOptions & WeChatDepsOverrides = {}): WeChatDeps => {
  const config = worldConfig(table, options);
  return createWeChatDeps(config, secretsOf(config), { doc: table.doc, ...options });
};
