// Shared "given" setups for the service tests that run against DynamoDB Local and the WeChat simulator.
import { simulatorEnv, SIMULATOR_COMPONENT } from '../../infra/local/credentials.ts';
import { startSimulator, type Simulator } from '../../infra/local/simulator/index.ts';
import { loadConfig } from '../../lib/runtime/config.ts';
import { createWeChatDeps, type WeChatDeps } from '../../lib/runtime/wechat-deps.ts';
import { createMemoryLogger } from '../../lib/kernel/logger.ts';
import { saveVerifyTicket } from '../../lib/store/tickets.ts';
import type { TestTable } from './dynamo.ts';
import { TEST_LINK_SIGNING_KEY } from './sls.ts';

export interface SimulatorDeps {
  readonly sim: Simulator;
  readonly deps: WeChatDeps;
  readonly logger: ReturnType<typeof createMemoryLogger>;
}

/**
 * The WeChat simulator (no automatic pushes) and WeChat deps on `table` logging to a memory logger, with the
 * ticket the simulator just pushed already stored. The caller stops `sim`.
 */
export const simulatorDeps = async (table: TestTable, publicBaseUrl: string): Promise<SimulatorDeps> => {
  const sim = await startSimulator({ autoPush: false, ticketIntervalMs: 0 });
  const config = loadConfig({
    ...simulatorEnv(),
    TABLE_NAME: table.tableName,
    WECHAT_API_BASE_URL: sim.url,
    DYNAMODB_ENDPOINT: table.endpoint,
    PUBLIC_BASE_URL: publicBaseUrl,
    LINK_SIGNING_KEY: TEST_LINK_SIGNING_KEY,
  });
  const logger = createMemoryLogger();
  const deps = createWeChatDeps(config, config.secrets!, { doc: table.doc, logger });
  await sim.pushTicket();
  await saveVerifyTicket(deps, { componentAppId: SIMULATOR_COMPONENT.appId, ticket: sim.latestTicket()!, createTime: Math.floor(Date.now() / 1000) });
  return { sim, deps, logger };
};
