// Run as its own process by tests/e2e/events.test.ts: the operator's typed client (client/index.ts) as another
// service would use it, against `npm start`'s serverless-offline Lambda endpoint. Prints one JSON line:
// {"ok": answer} or {"error": {name, type, errcode}}.
//   node tests/e2e/client-process.ts <lambdaPort> component | authorizer <appid> | admin <action> [input JSON]
import { LambdaClient } from '@aws-sdk/client-lambda';
import { createPlatformClient, PlatformError } from '../../client/index.ts';

const [port, op, arg, json] = process.argv.slice(2);
const lambda = new LambdaClient({
  endpoint: `http://127.0.0.1:${port}`,
  region: 'local',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});
const platform = createPlatformClient({ stage: 'dev', lambda });
const run = async (): Promise<unknown> => {
  if (op === 'component') return platform.getComponentToken();
  if (op === 'authorizer') return platform.getAuthorizerToken(arg ?? '');
  if (op === 'admin') return platform.admin(arg ?? '', json ? JSON.parse(json) : {});
  throw new Error(`unknown op ${op}`);
};
try {
  process.stdout.write(`${JSON.stringify({ ok: await run() })}\n`);
} catch (error) {
  const e = error as PlatformError;
  process.stdout.write(
    `${JSON.stringify({ error: { name: e.name, type: e instanceof PlatformError ? e.type : undefined, errcode: e.errcode, message: e.message } })}\n`,
  );
} finally {
  lambda.destroy();
}
