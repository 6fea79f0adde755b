// `npm test`: starts one DynamoDB Local for the whole run (each test file makes its own table in it),
// runs node's test runner over tests/**, stops DynamoDB Local, and exits with the runner's code.
import { spawn } from 'node:child_process';
import { startDynamoLocal } from '../infra/local/dynamodb.ts';

const patterns = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['tests/**/*.test.ts'];
const dynamo = await startDynamoLocal();
const args = [
  '--test',
  '--test-concurrency=1',
  '--test-reporter=spec',
  '--test-reporter-destination=stdout',
  '--test-reporter=./tests/helpers/summary-reporter.ts',
  '--test-reporter-destination=stdout',
  ...patterns,
];
const child = spawn(process.execPath, args, {
  stdio: 'inherit',
  env: {
    ...process.env,
    TEST_DYNAMODB_ENDPOINT: dynamo.endpoint,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  },
});
const stopChild = (signal: NodeJS.Signals) => child.kill(signal);
process.on('SIGINT', stopChild);
process.on('SIGTERM', stopChild);
const code = await new Promise<number>((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
await dynamo.stop();
process.exit(code);
