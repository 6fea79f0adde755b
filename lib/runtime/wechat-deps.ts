// Deps for the functions that call WeChat. Kept apart from lib/runtime/deps.ts so `ticket` and `message`, which
// never call WeChat, do not load undici at cold start.
import type { Dispatcher } from 'undici';
import type { ComponentSecrets, Config } from './config.ts';
import { createDeps, type Deps, type DepsOverrides } from './deps.ts';
import { createWeChatClient, type WeChatClient } from '../wechat/client.ts';

export type WeChatDeps = Deps & { readonly wechat: WeChatClient };

export interface WeChatDepsOverrides extends DepsOverrides {
  wechat?: WeChatClient;
  /** Handed to the real client (tests: undici MockAgent); ignored when `wechat` is given. */
  dispatcher?: Dispatcher;
}

/** createDeps plus the WeChat client on config.wechatApiBaseUrl, logging through the deps logger. */
export const createWeChatDeps = (config: Config, secrets: ComponentSecrets, overrides: WeChatDepsOverrides = {}): WeChatDeps => {
  const deps = createDeps(config, secrets, overrides);
  const wechat =
    overrides.wechat ??
    createWeChatClient({
      baseUrl: config.wechatApiBaseUrl,
      logger: deps.logger,
      ...(overrides.dispatcher ? { dispatcher: overrides.dispatcher } : {}),
    });
  return { ...deps, wechat };
};
