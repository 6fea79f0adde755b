// Shared "given" setups for the service tests that run against DynamoDB Local and the WeChat simulator.
import { SIMULATOR_COMPONENT } from '../../infra/local/credentials.ts';
import { startSimulator, type Simulator } from '../../infra/local/simulator/index.ts';
import type { WeChatDeps } from '../../lib/runtime/wechat-deps.ts';
import { createMemoryLogger } from '../../lib/kernel/logger.ts';
import { saveVerifyTicket } from '../../lib/store/tickets.ts';
import type { TestTable } from './dynamo.ts';
import { worldWeChatDeps } from './world.ts';

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
  const logger = createMemoryLogger();
  const deps = worldWeChatDeps(table, { wechatUrl: sim.url, publicBaseUrl, logger });
  await sim.pushTicket();
  await saveVerifyTicket(deps, { componentAppId: SIMULATOR_COMPONENT.appId, ticket: sim.latestTicket()!, createTime: Math.floor(Date.now() / 1000) });
  return { sim, deps, logger };
};
