// A Lambda Invoke endpoint on 127.0.0.1 for handlers running in this process: what the real Lambda client
// (@aws-sdk/client-lambda) talks to when AWS_ENDPOINT_URL_LAMBDA points here. It speaks the one call the code
// makes, POST /2015-03-31/functions/<name>/invocations: `Event` (asynchronous) answers 202 at once and runs the
// handler after, `RequestResponse` answers 200 with the handler's result. The refresh bench and tests start
// worker runs through it; `settled()` resolves once every asynchronous run has finished.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context } from 'aws-lambda';

export type LocalHandler = (event: unknown, context: Context) => Promise<unknown>;

export interface LocalInvocation {
  readonly functionName: string;
  readonly type: 'Event' | 'RequestResponse';
  readonly payload: unknown;
}

export interface LambdaEndpoint {
  readonly url: string;
  /** Every invocation accepted, in order. */
  invocations(): readonly LocalInvocation[];
  /** Resolves when no asynchronous run is in flight (runs started by runs included). */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

const body = async (request: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

/** A context as Lambda hands it, with `timeoutMs` to spend from the start of the invocation. */
const contextFor = (functionName: string, timeoutMs: number, requestId: string): Context => {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
};

export const startLambdaEndpoint = async (handlers: Record<string, LocalHandler>, options: { timeoutMs?: number } = {}): Promise<LambdaEndpoint> => {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const accepted: LocalInvocation[] = [];
  const running = new Set<Promise<unknown>>();
  let count = 0;
  const server = createServer((request, response) => {
    void (async () => {
      const name = INVOKE_PATH.exec(request.url ?? '')?.[1];
      const functionName = name ? decodeURIComponent(name) : undefined;
      const handler = functionName ? handlers[functionName] : undefined;
      if (request.method !== 'POST' || !functionName || !handler) {
        response.writeHead(404, { 'content-type': 'application/json', 'x-amzn-errortype': 'ResourceNotFoundException' });
        response.end(JSON.stringify({ Type: 'User', message: `Function not found: ${request.url}` }));
        return;
      }
      const type = request.headers['x-amz-invocation-type'] === 'Event' ? 'Event' : 'RequestResponse';
      const text = await body(request);
      const payload: unknown = text ? JSON.parse(text) : {};
      accepted.push({ functionName, type, payload });
      count += 1;
      const run = handler(payload, contextFor(functionName, timeoutMs, `local-${count}`));
      if (type === 'Event') {
        const tracked = run.catch(() => undefined).finally(() => running.delete(tracked));
        running.add(tracked);
        response.writeHead(202);
        response.end();
        return;
      }
      try {
        const result = await run;
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify(result ?? null));
      } catch (error) {
        response.writeHead(200, { 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled' });
        response.end(JSON.stringify({ errorMessage: error instanceof Error ? error.message : String(error) }));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    invocations: () => accepted,
    settled: async () => {
      while (running.size > 0) await Promise.all([...running]);
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};
