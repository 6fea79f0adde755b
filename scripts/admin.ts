// `npm run admin -- <action> [--key value …] [--stage <stage>] [--region <region>]`: one operator action of the
// `admin` function (docs/architecture.md §7), invoked exactly as an operator's console would invoke it in AWS.
// Without --stage (or with --stage dev) it invokes the function `npm start` runs, through serverless-offline's
// Lambda endpoint (127.0.0.1:$OFFLINE_LAMBDA_PORT, default 3002); with another stage, the deployed
// `wechat-component-<stage>-admin` with the default AWS credential chain. A value that reads as JSON (numbers,
// true/false/null, arrays, objects, quoted strings) is sent as that JSON; anything else as a string; a flag
// without a value as true. Prints the answer; exits 1 on an `{"error"}` answer or a failed invocation.
import { fileURLToPath } from 'node:url';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';

const SERVICE = 'wechat-component';
const LOCAL_STAGE = 'dev';

export interface AdminCommand {
  readonly stage: string;
  readonly region: string | undefined;
  readonly payload: Record<string, unknown> & { readonly action: string };
}

const JSON_LIKE = /^(-?\d|\[|\{|"|true$|false$|null$)/;

/** The value of `--key value`: JSON when it reads as JSON, else the string itself. */
export const parseValue = (raw: string): unknown => {
  if (!JSON_LIKE.test(raw)) return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
};

/** Reads `<action> --key value …`; --stage and --region choose where, every other key goes into the payload. */
export const parseAdminArgs = (argv: readonly string[], env: NodeJS.ProcessEnv = process.env): AdminCommand => {
  const [action, ...rest] = argv;
  if (!action || action.startsWith('--')) throw new Error('usage: npm run admin -- <action> [--key value …] [--stage prod] [--region ap-east-1]');
  const payload: Record<string, unknown> = {};
  let stage = LOCAL_STAGE;
  let region = env.AWS_REGION;
  for (let i = 0; i < rest.length; i += 1) {
    const flag = rest[i] ?? '';
    if (!flag.startsWith('--') || flag.length < 3) throw new Error(`expected --key, got "${flag}"`);
    const key = flag.slice(2);
    const next = rest[i + 1];
    const raw = next === undefined || next.startsWith('--') ? undefined : next;
    if (raw !== undefined) i += 1;
    if (key === 'stage') stage = raw ?? '';
    else if (key === 'region') region = raw;
    else payload[key] = raw === undefined ? true : parseValue(raw);
  }
  if (!stage) throw new Error('--stage needs a value');
  return { stage, region, payload: { ...payload, action } };
};

const invoke = async (command: AdminCommand, env: NodeJS.ProcessEnv): Promise<unknown> => {
  const local = command.stage === LOCAL_STAGE;
  const client = local
    ? new LambdaClient({
        endpoint: `http://127.0.0.1:${env.OFFLINE_LAMBDA_PORT ?? '3002'}`,
        region: command.region ?? 'ap-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      })
    : new LambdaClient(command.region ? { region: command.region } : {});
  const functionName = `${SERVICE}-${command.stage}-admin`;
  try {
    const out = await client.send(new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(command.payload)) }));
    const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
    const answer: unknown = text ? JSON.parse(text) : null;
    if (out.FunctionError) throw new Error(`${functionName} failed (${out.FunctionError}): ${text}`);
    return answer;
  } catch (error) {
    const code = (error as { code?: string; cause?: { code?: string } }).code ?? (error as { cause?: { code?: string } }).cause?.code;
    if (local && code === 'ECONNREFUSED') {
      throw new Error('nothing answers on the local Lambda endpoint: start the platform with `npm start` first');
    }
    throw error;
  } finally {
    client.destroy();
  }
};

const main = async () => {
  const command = parseAdminArgs(process.argv.slice(2));
  const answer = await invoke(command, process.env);
  process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
  const failed = typeof answer === 'object' && answer !== null && 'error' in answer;
  process.exitCode = failed ? 1 : 0;
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: Error) => {
    process.stderr.write(`admin: ${error.message}\n`);
    process.exitCode = 1;
  });
}
