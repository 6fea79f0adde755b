// Warm latency of the deployed `ticket` handler (middy, error boundary, config, crypto, XML, one conditional
// PutItem) against DynamoDB Local: 1,000 genuine ticket pushes one after another, then 1,000 forged ones.
// Encryption happens before the clock starts; each push carries a newer CreateTime, so every one is a write.
// `node bench/ticket-latency.ts` (or `npm run bench ticket`). Not part of `npm test`.
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { SIMULATOR_COMPONENT, simulatorEnv } from '../infra/local/credentials.ts';
import { ensureTable, localClient, startDynamoLocal } from '../infra/local/dynamodb.ts';
import { context } from '../tests/helpers/context.ts';
import { encryptedPushEvent, ticketXml } from '../tests/helpers/wechat-push.ts';
import { percentile, report, round } from './lib.ts';

const PUSHES = 1000;
const WARMUP = 50;
const COMMAND = 'node bench/ticket-latency.ts';
const TABLE = 'bench-ticket-latency';

const dynamo = await startDynamoLocal();
try {
  await ensureTable(dynamo.endpoint, TABLE);
  Object.assign(process.env, simulatorEnv(), {
    TABLE_NAME: TABLE,
    PUBLIC_BASE_URL: 'http://127.0.0.1:3000',
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: 'ap-east-1',
    // One JSON line per push (saved / rejected) would measure the terminal, not the handler.
    LOG_LEVEL: 'error',
  });
  // Imported after the environment is set, as Lambda would load it.
  const { handler } = await import('../functions/ticket/handler.ts');
  const invoke = handler as unknown as (e: APIGatewayProxyEventV2, c: typeof context) => Promise<APIGatewayProxyStructuredResultV2>;
  const keys = { token: SIMULATOR_COMPONENT.token, encodingAesKey: SIMULATOR_COMPONENT.encodingAesKey, appId: SIMULATOR_COMPONENT.appId };
  const start = Math.floor(Date.now() / 1000);
  const pushes = Array.from({ length: WARMUP + PUSHES }, (_, i) =>
    encryptedPushEvent(ticketXml({ appId: keys.appId, createTime: start - 3600 + i, ticket: `ticket@@@bench-${i}` }), {
      ...keys,
      timestamp: String(start),
    }),
  );
  const forged = pushes.map((e) => ({ ...e, queryStringParameters: { ...e.queryStringParameters, msg_signature: 'f'.repeat(40) } }));

  const measure = async (events: APIGatewayProxyEventV2[], expected: number): Promise<number[]> => {
    const times: number[] = [];
    for (const [i, event] of events.entries()) {
      const started = performance.now();
      const response = await invoke(event, context);
      const elapsed = performance.now() - started;
      if (response.statusCode !== expected) throw new Error(`push ${i}: status ${response.statusCode}, expected ${expected}: ${response.body}`);
      if (i >= WARMUP) times.push(elapsed);
    }
    return times.sort((a, b) => a - b);
  };

  // The floor: the same conditional PutItem alone, so the handler's own share can be told apart.
  const baseline = async (): Promise<number[]> => {
    const doc = DynamoDBDocumentClient.from(localClient(dynamo.endpoint));
    const times: number[] = [];
    for (let i = 0; i < WARMUP + PUSHES; i += 1) {
      const started = performance.now();
      await doc.send(
        new PutCommand({
          TableName: TABLE,
          Item: { pk: 'COMPONENT#baseline', sk: 'TICKET', ticket: 'x', createTime: i, expiresAt: i + 43_200 },
          ConditionExpression: 'attribute_not_exists(pk) OR createTime < :t',
          ExpressionAttributeValues: { ':t': i },
        }),
      );
      if (i >= WARMUP) times.push(performance.now() - started);
    }
    doc.destroy();
    return times.sort((a, b) => a - b);
  };

  const genuine = await measure(pushes, 200);
  const rejected = await measure(forged, 400);
  const putOnly = await baseline();
  for (const [label, times, target] of [
    ['ticket push (stored)', genuine, '<< 5000 ms (WeChat window)'],
    ['forged push (400)', rejected, undefined],
    ['DynamoDB Local conditional PutItem alone', putOnly, undefined],
  ] as const) {
    const note = `${PUSHES} sequential warm invocations after ${WARMUP} warm-up; max ${round(times.at(-1)!, 2)} ms`;
    report({ name: `${label}: p50`, value: round(percentile(times, 50)), unit: 'ms', target, command: COMMAND, note });
    report({ name: `${label}: p99`, value: round(percentile(times, 99)), unit: 'ms', target, command: COMMAND, note });
    process.stdout.write(
      `${label}: p50 ${round(percentile(times, 50))} ms, p90 ${round(percentile(times, 90))} ms, p99 ${round(percentile(times, 99))} ms, max ${round(times.at(-1)!)} ms\n`,
    );
  }
} finally {
  await dynamo.stop();
}
