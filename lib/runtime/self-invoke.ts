// A function starting more runs of itself: the scheduled refresh spreads the schedule's shards over worker runs
// (lib/tokens/scheduled-refresh.ts). An asynchronous invoke (InvocationType Event): Lambda queues it, retries it
// as the function's async settings say, and answers 202 at once. The Lambda client is loaded on the first
// start, never at module init, so the function's cold start does not pay for a client it rarely needs.
// Locally AWS_ENDPOINT_URL_LAMBDA points it at a Lambda endpoint on 127.0.0.1 (serverless-offline, the bench).
import type { Config } from './config.ts';
import { localEndpointOptions } from './endpoints.ts';

/** Queues one asynchronous invocation of `functionName` with `payload`; throws unless Lambda accepted it. */
export type StartRun = (functionName: string, payload: unknown) => Promise<void>;

export const lambdaStartRun = (config: Pick<Config, 'lambdaEndpoint' | 'awsRegion'> & Partial<Pick<Config, 'awsCredentialsInEnv'>>): StartRun => {
  let client: Promise<import('./lambda-sdk.ts').LambdaClient> | undefined;
  const lambda = async () => {
    const { LambdaClient } = await import('./lambda-sdk.ts');
    return new LambdaClient({
      ...localEndpointOptions(config.lambdaEndpoint, config.awsRegion, config.awsCredentialsInEnv ?? false),
      maxAttempts: 3,
      requestHandler: { connectionTimeout: 1_000, requestTimeout: 5_000, throwOnRequestTimeout: true },
    });
  };
  return async (functionName, payload) => {
    client ??= lambda();
    const { InvokeCommand } = await import('./lambda-sdk.ts');
    const answer = await (await client).send(
      new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(payload)) }),
    );
    if (answer.StatusCode !== 202) throw new Error(`${functionName} did not accept the asynchronous invocation (status ${answer.StatusCode})`);
  };
};
