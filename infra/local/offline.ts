// Helpers for talking to serverless-offline: readiness, and its Lambda invoke API.
import type { StreamEvent } from './stream-poller.ts';

/** The names serverless computes for the dev stage (service `wechat-component`). */
export const LOCAL_TABLE = 'wechat-component-dev';
export const LOCAL_FUNCTION_PREFIX = 'wechat-component-dev-';
/** The dev stage's own bus (serverless.yml custom.eventBuses.own), which the local event bus serves. */
export const LOCAL_EVENT_BUS = 'wechat-component-dev';

export const waitForHttp = async (url: string, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(2000) });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
};

/** Invokes a function through serverless-offline's Lambda API (full function name), as the event source mapping would. */
export const invokeOffline = async (lambdaPort: number, functionName: string, event: StreamEvent, signal?: AbortSignal) => {
  const response = await fetch(`http://127.0.0.1:${lambdaPort}/2015-03-31/functions/${functionName}/invocations`, {
    method: 'POST',
    body: JSON.stringify(event),
    signal,
  });
  const text = await response.text();
  if (!response.ok || response.headers.get('x-amz-function-error') || response.headers.get('x-amzn-errortype')) {
    throw new Error(`invoke ${functionName} failed: ${response.status}`);
  }
  return text ? (JSON.parse(text) as { batchItemFailures?: { itemIdentifier: string }[] }) : undefined;
};
