// Fault injection for DynamoDB: a DocumentClient of its own (on DynamoDB Local) whose middleware stack
// records every command and can fail chosen ones, the way AWS does under load:
//  - throttling (ProvisionedThroughputExceededException / ThrottlingException) either INSIDE the SDK's retry
//    loop (a transient burst the SDK absorbs) or OUTSIDE it (throttling that outlasted the SDK's retries);
//  - failing the Nth write (e.g. halfway through an authorization), before it reaches the table or after
//    it was applied (the answer was lost: the caller cannot know the write happened);
//  - losing the answer of an applied write INSIDE the SDK's retry loop (a reset socket), so the SDK sends the
//    same write again and it meets its own condition.
// Build one per test (faultyDocumentClient) so faults never leak into other clients: the document client
// shares its middleware stack with the DynamoDBClient underneath it.
import { ProvisionedThroughputExceededException, ThrottlingException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { FinalizeHandler, FinalizeHandlerArguments, HandlerExecutionContext } from '@smithy/types';
import { localClient } from '../../infra/local/dynamodb.ts';

const WRITE_COMMANDS: ReadonlySet<string> = new Set([
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'TransactWriteItemsCommand',
  'BatchWriteItemCommand',
]);

export interface DdbCall {
  readonly command: string;
  /** Partition keys the command touches (doc or marshalled form). */
  readonly pks: readonly string[];
  readonly write: boolean;
  /** 'ok', 'failed' (DynamoDB said no, e.g. a condition), or 'injected' (a fault from this helper). */
  outcome: 'pending' | 'ok' | 'failed' | 'injected';
  error?: string;
}

export interface FaultRule {
  /** Which calls the rule counts; default: every write. */
  readonly match?: (call: DdbCall) => boolean;
  /** The first matching call to fail (1-based; default 1). */
  readonly nth?: number;
  /** How many consecutive matching calls fail from the nth on (default 1; Infinity = until cleared). */
  readonly times?: number;
  /** Default: ProvisionedThroughputExceededException. */
  readonly error?: () => Error;
  /**
   * 'outside-retry' (default): the caller sees the error. 'inside-retry': thrown within the SDK's retry loop,
   * so each attempt counts and the SDK retries throttling by itself. 'after-write': the write is applied,
   * then the error replaces its answer. 'answer-lost': the write is applied, then a connection reset (default
   * error) replaces its answer within the SDK's retry loop, so the SDK retries the write itself.
   */
  readonly where?: 'outside-retry' | 'inside-retry' | 'after-write' | 'answer-lost';
}

export interface FaultyDocumentClient {
  readonly doc: DynamoDBDocumentClient;
  /** Every command sent, in order (each SDK attempt inside the retry loop is not a separate call). */
  readonly calls: DdbCall[];
  writes(): DdbCall[];
  /** Adds a fault; returns how to read how many times it fired. */
  inject(rule: FaultRule): { fired: () => number };
  clearFaults(): void;
  resetCalls(): void;
  close(): void;
}

export const throttled = (message = 'injected: throughput exceeded'): Error =>
  new ProvisionedThroughputExceededException({ $metadata: { httpStatusCode: 400 }, message });
export const throttling = (message = 'injected: rate exceeded'): Error => new ThrottlingException({ $metadata: { httpStatusCode: 400 }, message });
/** What Node reports when the socket closes before the answer arrived: the SDK retries it. */
const connectionReset = (): Error => Object.assign(new Error('injected: socket hang up'), { code: 'ECONNRESET' });

const pkOf = (key: unknown): string | undefined => {
  const pk = (key as { pk?: unknown } | undefined)?.pk;
  if (typeof pk === 'string') return pk;
  const s = (pk as { S?: unknown } | undefined)?.S;
  return typeof s === 'string' ? s : undefined;
};

type TransactItem = Record<string, { Item?: unknown; Key?: unknown } | undefined>;

/** The partition keys a command's input names. */
const pksOf = (input: Record<string, unknown>): string[] => {
  const direct = [pkOf(input.Item), pkOf(input.Key)];
  const transact = ((input.TransactItems as TransactItem[] | undefined) ?? []).flatMap((t) =>
    Object.values(t).map((op) => pkOf(op?.Item) ?? pkOf(op?.Key)),
  );
  return [...direct, ...transact].filter((pk): pk is string => pk !== undefined);
};

interface ActiveRule {
  readonly rule: FaultRule;
  seen: number;
  fired: number;
}

const firing = (active: ActiveRule, call: DdbCall): boolean => {
  const { rule } = active;
  if (!(rule.match ?? ((c: DdbCall) => c.write))(call)) return false;
  active.seen += 1;
  const first = rule.nth ?? 1;
  const last = first + (rule.times ?? 1) - 1;
  if (active.seen < first || active.seen > last) return false;
  active.fired += 1;
  return true;
};

/** A DocumentClient on `endpoint` with recording and fault injection in its middleware stack. */
export const faultyDocumentClient = (endpoint: string): FaultyDocumentClient => {
  const client = localClient(endpoint);
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const calls: DdbCall[] = [];
  const rules: ActiveRule[] = [];
  // The handler context is one object per command invocation, shared by every middleware and SDK attempt.
  const current = new WeakMap<object, DdbCall>();
  const pick = (call: DdbCall, where: NonNullable<FaultRule['where']>): ActiveRule | undefined =>
    rules.find((r) => (r.rule.where ?? 'outside-retry') === where && firing(r, call));

  doc.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      const command = String(context.commandName ?? 'unknown');
      const call: DdbCall = { command, pks: pksOf(input), write: WRITE_COMMANDS.has(command), outcome: 'pending' };
      calls.push(call);
      const outside = pick(call, 'outside-retry');
      if (outside) {
        call.outcome = 'injected';
        const error = (outside.rule.error ?? throttled)();
        call.error = error.name;
        throw error;
      }
      current.set(context, call);
      const after = pick(call, 'after-write');
      try {
        const result = await next(args);
        if (after) {
          call.outcome = 'injected';
          const error = (after.rule.error ?? throttled)();
          call.error = error.name;
          throw error;
        }
        call.outcome = 'ok';
        return result;
      } catch (error) {
        if (call.outcome === 'pending') {
          call.outcome = 'failed';
          call.error = (error as Error).name;
        }
        throw error;
      }
    },
    { step: 'initialize', priority: 'high', name: 'faultRecorder' },
  );
  doc.middlewareStack.addRelativeTo(
    ((next: FinalizeHandler<object, object>, context: HandlerExecutionContext) => async (args: FinalizeHandlerArguments<object>) => {
      const call = current.get(context);
      if (call) {
        const inside = pick(call, 'inside-retry');
        if (inside) throw (inside.rule.error ?? throttled)();
        const lost = pick(call, 'answer-lost');
        if (lost) {
          await next(args);
          throw (lost.rule.error ?? connectionReset)();
        }
      }
      return next(args);
    }) as unknown as Parameters<DynamoDBDocumentClient['middlewareStack']['addRelativeTo']>[0],
    { relation: 'after', toMiddleware: 'retryMiddleware', name: 'faultInsideRetry' },
  );

  return {
    doc,
    calls,
    writes: () => calls.filter((c) => c.write),
    inject: (rule) => {
      const active: ActiveRule = { rule, seen: 0, fired: 0 };
      rules.push(active);
      return { fired: () => active.fired };
    },
    clearFaults: () => {
      rules.length = 0;
    },
    resetCalls: () => {
      calls.length = 0;
    },
    close: () => client.destroy(),
  };
};
