// CloudWatch Embedded Metric Format (EMF): one JSON line on stdout per set of values sharing dimensions.
// In Lambda, CloudWatch Logs turns these lines into metrics with no API call and no dependency; the alarms
// in infra/ refer to the names below, so a name is part of the contract and never renamed in passing.
import { systemClock, type Clock } from './clock.ts';

export const METRIC_NAMESPACE = 'WeChatComponent';

/** Every metric this project emits, with its CloudWatch unit. */
export const METRIC_UNITS = {
  /** Age of the stored component_verify_ticket; a missing ticket reports TICKET_MISSING_AGE_S. */
  TicketAgeSeconds: 'Seconds',
  /** Lifetime left on the stored component token after the run (0 when there is none). */
  ComponentTokenRemainingSeconds: 'Seconds',
  /** A run that needed a component token and could not get one. */
  ComponentTokenRefreshFailed: 'Count',
  AuthorizerRefreshed: 'Count',
  /** Per errcode (`Errcode` dimension): 45009, -1, network, … */
  AuthorizerRefreshFailed: 'Count',
  /** Accounts whose refresh token could not be recovered: an owner must authorize again. */
  NeedsReauth: 'Count',
  /** Authorizer tokens the run found due. */
  RefreshDue: 'Count',
  /** Worker runs a scheduled refresh could not start (it read their shards itself): the role or the invoke quota. */
  RefreshWorkersNotStarted: 'Count',
  /** Due tokens not refreshed and not failed: fresh, leased, not authorized, or left for the next run at the deadline. */
  RefreshSkipped: 'Count',
  /** A getticket call WeChat refused, per errcode (`Errcode` dimension); 45009 = the account's daily quota. */
  JsapiTicketFailed: 'Count',
  /** Outbox items put on the bus (the `events` function, docs/events.md). */
  EventsDelivered: 'Count',
  /** Entries PutEvents refused or could not take this attempt; their records are retried, then the failure queue. */
  EventDeliveryFailed: 'Count',
  /** Outbox items that can never be delivered (malformed, or over EventBridge's 256 KB): logged and skipped. */
  EventsUndeliverable: 'Count',
  /** The authorization pages got 45009 from WeChat (dimension Api): new authorizations are blocked for the day. */
  AuthorizationPageQuotaExhausted: 'Count',
  /** A verified message for an account not held as authorized (`Status`: unknown, needs_reauth, unauthorized, component, …). */
  MessageForInactiveAccount: 'Count',
  /** A stream event that failed and was scheduled for a later attempt (message function: none; authorized). */
  EventRetryScheduled: 'Count',
  /** A stream event given up on: a permanent failure, or retries exhausted. Alarmed; `redrive` replays it. */
  StreamEventDropped: 'Count',
  /** A refresh run stopped its WeChat calls on 45009 (the circuit breaker); the rest stays due. */
  RefreshCircuitOpen: 'Count',
  /** Reconcile: accounts brought back (missing, failed, stale refresh token) and profiles WeChat no longer lists. */
  ReconcileRecovered: 'Count',
  ReconcileUnlisted: 'Count',
} as const;

export type MetricName = keyof typeof METRIC_UNITS;
export type MetricValues = Partial<Record<MetricName, number>>;
export type Dimensions = Readonly<Record<string, string>>;

export interface PutOptions {
  /** Also publish the values without any dimension (a second, empty dimension set), for alarms that use none. */
  readonly rollup?: boolean;
}

/** Where metrics go; each call is one EMF document. */
export interface Metrics {
  put(values: MetricValues, dimensions?: Dimensions, options?: PutOptions): void;
}

export interface MetricsOptions {
  /** Where lines go; stdout by default (the Lambda log stream, which CloudWatch parses). */
  sink?: (line: string) => void;
  clock?: Clock;
}

const MAX_DIMENSIONS = 30;

/**
 * Builds one EMF document. Dimension values are copied to the root as the spec requires; metrics without
 * dimensions get one empty dimension set, which CloudWatch publishes as a dimensionless metric. With `rollup`
 * each value is published twice: with the dimensions and without.
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
export const emfDocument = (values: MetricValues, dimensions: Dimensions, timestamp: number, options: PutOptions = {}): Record<string, unknown> => {
  const names = Object.keys(dimensions);
  if (names.length > MAX_DIMENSIONS) throw new RangeError(`an EMF document takes at most ${MAX_DIMENSIONS} dimensions`);
  const entries = Object.entries(values).filter(([name, value]) => {
    if (!(name in METRIC_UNITS)) throw new RangeError(`unknown metric ${name}`);
    return typeof value === 'number' && Number.isFinite(value);
  }) as [MetricName, number][];
  return {
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: METRIC_NAMESPACE,
          Dimensions: options.rollup && names.length > 0 ? [names, []] : [names],
          Metrics: entries.map(([name]) => ({ Name: name, Unit: METRIC_UNITS[name] })),
        },
      ],
    },
    ...dimensions,
    ...Object.fromEntries(entries),
  };
};

/** Metrics as EMF lines; a call with no finite value writes nothing. */
export const createMetrics = (options: MetricsOptions = {}): Metrics => {
  const sink = options.sink ?? ((line: string) => process.stdout.write(`${line}\n`));
  const clock = options.clock ?? systemClock;
  return {
    put: (values, dimensions = {}, putOptions = {}) => {
      const document = emfDocument(values, dimensions, clock(), putOptions);
      const metrics = (document._aws as { CloudWatchMetrics: { Metrics: unknown[] }[] }).CloudWatchMetrics[0]?.Metrics ?? [];
      if (metrics.length > 0) sink(JSON.stringify(document));
    },
  };
};

/** Metrics kept in memory, for tests: `documents()` parses each line, `sum(name, dims?)` adds up one metric. */
export const createMemoryMetrics = (clock?: Clock) => {
  const lines: string[] = [];
  const metrics = createMetrics({ sink: (line) => lines.push(line), ...(clock ? { clock } : {}) });
  const documents = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  const matches = (document: Record<string, unknown>, dimensions: Dimensions) =>
    Object.entries(dimensions).every(([key, value]) => document[key] === value);
  const sum = (name: MetricName, dimensions: Dimensions = {}): number =>
    documents()
      .filter((d) => typeof d[name] === 'number' && matches(d, dimensions))
      .reduce((total, d) => total + (d[name] as number), 0);
  return Object.assign(metrics, { lines, documents, sum });
};
