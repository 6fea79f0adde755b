// The push paths' DynamoDB budget against a DynamoDB that accepts connections and never answers (a stuck
// socket): one call fails after PUSH_DYNAMODB_BUDGET.maxAttempts bounded attempts, so the push function
// answers WeChat (500, which it retries) inside its 5 s instead of hanging for 3 × 5 s.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient, DEFAULT_DYNAMODB_BUDGET, PUSH_DYNAMODB_BUDGET } from '../../../lib/runtime/deps.ts';

/** WeChat's window for answering a push (docs/protocol.md §1.5). */
const WECHAT_WINDOW_MS = 5_000;
/** The SDK's standard retry backs off at most 20 s per attempt, but with full jitter from 100 ms doubling: ~300 ms for two retries. */
const BACKOFF_MS = 100 + 200;

let connections = 0;
const sockets: Socket[] = [];
const server = createServer((socket) => {
  connections += 1;
  sockets.push(socket);
  socket.on('data', () => undefined);
});
let endpoint = '';

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('runtime.PUSH_DYNAMODB_BUDGET', () => {
  it("keeps one call with every attempt stuck inside WeChat's 5 s; the default budget would not", () => {
    const worst = (b: typeof PUSH_DYNAMODB_BUDGET) => b.maxAttempts * b.requestTimeoutMs + BACKOFF_MS;
    assert.ok(worst(PUSH_DYNAMODB_BUDGET) < WECHAT_WINDOW_MS, `${worst(PUSH_DYNAMODB_BUDGET)} ms`);
    assert.ok(worst(DEFAULT_DYNAMODB_BUDGET) > WECHAT_WINDOW_MS);
  });

  it('gives up on a stuck DynamoDB after exactly maxAttempts attempts, each on a fresh connection', async () => {
    // Prepare
    const doc = createDocumentClient({ dynamodbEndpoint: endpoint, awsRegion: 'local' }, PUSH_DYNAMODB_BUDGET);
    connections = 0;
    // Act
    const error = await doc.send(new GetCommand({ TableName: 't', Key: { pk: 'a', sk: 'b' } })).then(
      () => undefined,
      (e: unknown) => e as Error & { $metadata?: { attempts?: number } },
    );
    doc.destroy();
    // Assess
    assert.ok(error, 'the call failed');
    assert.equal(error.$metadata?.attempts, PUSH_DYNAMODB_BUDGET.maxAttempts);
    assert.equal(connections, PUSH_DYNAMODB_BUDGET.maxAttempts);
  });
});
