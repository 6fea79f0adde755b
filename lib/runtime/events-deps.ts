// Deps of the `events` delivery function: the EventBridge client and the bus, no table client and no secrets
// (it reads only what the stream hands it). Kept apart from deps.ts so no other function loads the
// EventBridge SDK. Locally AWS_ENDPOINT_URL_EVENTBRIDGE points the real client at `npm start`'s bus.
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry, type PutEventsResultEntry } from '@aws-sdk/client-eventbridge';
import { systemClock, type Clock } from '../kernel/clock.ts';
import { ConfigError } from '../kernel/errors.ts';
import { createLogger, type Logger } from '../kernel/logger.ts';
import { createMetrics, type Metrics } from '../kernel/metrics.ts';
import type { Config } from './config.ts';
import { localEndpointOptions } from './endpoints.ts';

/** One PutEvents call: the entries in, one result per entry (same order) out. */
export type PutEvents = (entries: PutEventsRequestEntry[]) => Promise<{ failedEntryCount: number; entries: PutEventsResultEntry[] }>;

export interface EventsDeps {
  readonly config: Config;
  readonly eventBusName: string;
  readonly putEvents: PutEvents;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly clock: Clock;
}

/** The only place the EventBridge client is built: bounded timeouts, the SDK's own retries (3 attempts). */
export const createEventBridgeClient = (config: Pick<Config, 'eventBridgeEndpoint' | 'awsRegion' | 'awsCredentialsInEnv'>): EventBridgeClient =>
  new EventBridgeClient({
    ...localEndpointOptions(config.eventBridgeEndpoint, config.awsRegion, config.awsCredentialsInEnv),
    maxAttempts: 3,
    // throwOnRequestTimeout: without it the handler only logs a warning when requestTimeout passes and waits on.
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 5_000, throwOnRequestTimeout: true },
  });

export const putEventsWith =
  (client: Pick<EventBridgeClient, 'send'>): PutEvents =>
  async (entries) => {
    const answer = await client.send(new PutEventsCommand({ Entries: entries }));
    return { failedEntryCount: answer.FailedEntryCount ?? 0, entries: answer.Entries ?? [] };
  };

export interface EventsDepsOverrides {
  putEvents?: PutEvents;
  logger?: Logger;
  metrics?: Metrics;
  clock?: Clock;
}

export const createEventsDeps = (config: Config, overrides: EventsDepsOverrides = {}): EventsDeps => {
  if (!config.eventBusName) throw new ConfigError(['EVENT_BUS_NAME is missing (the bus events are delivered to)']);
  const clock = overrides.clock ?? systemClock;
  return {
    config,
    eventBusName: config.eventBusName,
    putEvents: overrides.putEvents ?? putEventsWith(createEventBridgeClient(config)),
    logger: overrides.logger ?? createLogger({ level: config.logLevel }),
    metrics: overrides.metrics ?? createMetrics({ clock }),
    clock,
  };
};
