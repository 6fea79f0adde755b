// The deployable CloudFormation template, as `npx sls package --stage prod` generates it offline (no AWS
// account): once as deployed by default and once with the fixed egress IP on (and an existing event bus). Each run bundles all ten functions
// in its own esbuild work folder so a running `npm start` (which bundles into .esbuild) is never disturbed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { readZip } from '../helpers/zip.ts';
import { FUNCTION_NEEDS_MS, MESSAGE_HANDLING_MS } from '../../lib/kernel/limits.ts';
import { ACCOUNT_STATUS_ATTRIBUTES } from '../../lib/store/authorizers.ts';

// biome-ignore lint/suspicious/noExplicitAny: a parsed CloudFormation template, walked structurally
type Json = Record<string, any>; // a parsed template: walked structurally, shapes asserted below
interface Packaged {
  readonly dir: string;
  readonly template: Json;
  readonly text: string;
  readonly seconds: number;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SLS = join(ROOT, 'node_modules/serverless/bin/serverless.js');
const PACKAGE_TIMEOUT_MS = 90_000;
// Local values in the shell must not reach the prod template: secrets never, endpoints pinned by the prod params.
const SHELL = {
  COMPONENT_APPSECRET: 'shell-app-secret-must-not-ship',
  COMPONENT_TOKEN: 'shellTokenMustNotShip',
  COMPONENT_ENCODING_AES_KEY: 'shellAesKeyMustNotShip0123456789abcdefghijk',
  LINK_SIGNING_KEY: 'shellLinkSigningKeyMustNotShip0123456789abc',
  DYNAMODB_ENDPOINT: 'http://127.0.0.1:18000',
  WECHAT_API_BASE_URL: 'http://127.0.0.1:18001',
  PUBLIC_BASE_URL: 'http://shell-public-base.example',
  COMPONENT_APPID: 'wx5ce1ab0c0ffee999',
  PUSH_MAX_SKEW_S: '0',
  LOG_LEVEL: 'debug',
};
const CALLERS = ['arn:aws:iam::111122223333:role/orders-service', 'arn:aws:iam::123456789012:role/billing/service'];
const TABLE_KEY = 'arn:aws:kms:ap-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b';
/** The deployer's one required value for a deployed stage. */
const COMPONENT_APPID = 'wx0123456789abcdef';
const SECRET_NAMES = ['COMPONENT_APPSECRET', 'COMPONENT_TOKEN', 'COMPONENT_ENCODING_AES_KEY', 'LINK_SIGNING_KEY'];
const FUNCTIONS = ['Ticket', 'Message', 'Authorize', 'Authorized', 'Fleet', 'Refresh', 'Token', 'Login', 'Admin', 'Events'];
/** Functions that hold no secret at all. */
const WITHOUT_SECRETS = ['Events'];
const EXISTING_BUS = 'arn:aws:events:ap-east-1:123456789012:event-bus/operator-bus';
const WECHAT_CALLERS = ['Authorize', 'Authorized', 'Fleet', 'Refresh', 'Token', 'Login', 'Admin'];

const dirs: string[] = [];

/** Runs `sls package --stage prod` into a temp dir; kills the whole process group if it hangs (a failed esbuild build does). */
const runPackage = async (extraArgs: string[]): Promise<{ code: number | null; output: string; dir: string; seconds: number }> => {
  const dir = mkdtempSync(join(tmpdir(), 'sls-template-'));
  dirs.push(dir);
  const started = Date.now();
  const args = [SLS, 'package', '--stage', 'prod', '--region', 'ap-east-1', '--package', join(dir, 'out'), ...extraArgs];
  const env: NodeJS.ProcessEnv = { ...process.env, ...SHELL, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_REGION: 'ap-east-1' };
  env.ESBUILD_WORK_FOLDER = `.build/template-test-${process.pid}-${dirs.length}`;
  const child = spawn(process.execPath, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const kill = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(kill, PACKAGE_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  rmSync(join(ROOT, env.ESBUILD_WORK_FOLDER), { recursive: true, force: true });
  return { code, output, dir: join(dir, 'out'), seconds: (Date.now() - started) / 1000 };
};

const packageStack = async (extraArgs: string[]): Promise<Packaged> => {
  const { code, output, dir, seconds } = await runPackage([`--param=componentAppId=${COMPONENT_APPID}`, ...extraArgs]);
  assert.equal(code, 0, `sls package ${extraArgs.join(' ')} failed (${code}):\n${output.slice(-4000)}`);
  const text = readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8');
  return { dir, template: JSON.parse(text) as Json, text, seconds };
};

/** Every IAM statement anywhere in the template, including inside Fn::If branches. */
const statements = (node: unknown, found: Json[] = []): Json[] => {
  if (Array.isArray(node)) for (const item of node) statements(item, found);
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'Statement' && Array.isArray(value)) found.push(...(value as Json[]));
      statements(value, found);
    }
  }
  return found;
};

const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

const ofType = (template: Json, type: string): [string, Json][] =>
  Object.entries(template.Resources as Record<string, Json>).filter(([, r]) => r.Type === type);

/**
 * The DynamoDB actions a function's code issues, read from its bundle (tree-shaken, packages external, so every
 * `new XCommand(` left is a call this function can make). Items of a TransactWrite are authorized one by one.
 */
const issuedActions = async (fn: string): Promise<{ actions: string[]; usesIndex: boolean }> => {
  const out = await build({
    entryPoints: [join(ROOT, `functions/${fn}/handler.ts`)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    write: false,
  });
  const code = out.outputFiles[0]!.text;
  const commands = new Set([...code.matchAll(/new (\w+?)Command\d*\(/g)].map((m) => m[1]!));
  const actions = new Set<string>();
  const single: Record<string, string> = {
    Get: 'GetItem',
    Put: 'PutItem',
    Update: 'UpdateItem',
    Delete: 'DeleteItem',
    BatchGet: 'BatchGetItem',
    BatchWrite: 'BatchWriteItem',
    Query: 'Query',
    Scan: 'Scan',
    TransactGet: 'GetItem',
  };
  for (const command of commands) if (single[command]) actions.add(single[command]);
  if (commands.has('TransactWrite')) for (const m of code.matchAll(/\b(Put|Update|Delete|ConditionCheck):\s*\{/g)) actions.add(`${m[1]}Item`);
  return { actions: [...actions].map((a) => `dynamodb:${a}`).sort(), usesIndex: /\bIndexName:/.test(code) };
};

/** The actions a function's own role allows on DynamoDB, sorted. */
const dynamoActions = (template: Json, fn: string): string[] =>
  statements(template.Resources[`${fn}Role`])
    .flatMap((s) => list<string>(s.Action))
    .filter((a) => a.startsWith('dynamodb:'))
    .sort();

const STREAM_ACTIONS = ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'];

let prod: Packaged;
let egress: Packaged;

before(
  async () => {
    prod = await packageStack([]);
    egress = await packageStack([
      '--param=fixedEgressIp=true',
      `--param=tokenCallerRoleArns=${CALLERS.join(',')}`,
      `--param=tableKmsKeyArn=${TABLE_KEY}`,
      `--param=eventBusName=${EXISTING_BUS}`,
    ]);
  },
  { timeout: 2 * PACKAGE_TIMEOUT_MS + 10_000 },
);

after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('sls package --stage prod', () => {
  it('packages all ten functions offline, with no AWS account', (t) => {
    t.diagnostic(`sls package took ${prod.seconds} s, and ${egress.seconds} s with the egress IP`);
    const zips = readdirSync(prod.dir)
      .filter((f) => f.endsWith('.zip'))
      .sort();
    assert.deepEqual(zips, [
      'admin.zip',
      'authorize.zip',
      'authorized.zip',
      'events.zip',
      'fleet.zip',
      'login.zip',
      'message.zip',
      'refresh.zip',
      'ticket.zip',
      'token.zip',
    ]);
  });

  it('ships each function its own bundle and source map and nothing else (no esbuild metafile)', () => {
    for (const fn of FUNCTIONS.map((f) => f.toLowerCase())) {
      const names = readZip(readFileSync(join(prod.dir, `${fn}.zip`))).map((e) => e.name);
      assert.deepEqual(names.sort(), [`functions/${fn}/handler.cjs`, `functions/${fn}/handler.cjs.map`]);
    }
  });

  it('keeps the name of every error class in every bundle, so logs name the error as the code does', () => {
    // Identifiers are not minified (serverless.yml); esbuild still renames a class whose name collides in the bundle.
    const names = readdirSync(join(ROOT, 'lib'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) => [...readFileSync(join(ROOT, 'lib', f), 'utf8').matchAll(/^export class (\w+) extends/gm)].map((m) => m[1]!));
    assert.ok(names.includes('WeChatApiError') && names.includes('LeaseHeldError'));
    for (const fn of FUNCTIONS.map((f) => f.toLowerCase())) {
      const bundle = readZip(readFileSync(join(prod.dir, `${fn}.zip`)))
        .find((e) => e.name.endsWith('handler.cjs'))!
        .data()
        .toString('utf8');
      // A class is declared `class X extends` or, inside esbuild's module wrappers, assigned `X=class extends` (named X).
      for (const name of names) assert.doesNotMatch(bundle, new RegExp(`\\b(class ${name}\\d+|${name}\\d+=class)\\b`), `${fn}: ${name} renamed`);
      assert.match(bundle, /\b(class AppError|AppError=class) extends Error\b/, `${fn}: error classes not found as written`);
    }
  });

  it('keeps the table on-demand, with TTL, stream, PITR, deletion protection and Retain', () => {
    const table = prod.template.Resources.ComponentTable;
    assert.equal(table.DeletionPolicy, 'Retain');
    assert.equal(table.UpdateReplacePolicy, 'Retain');
    assert.equal(table.Properties.BillingMode, 'PAY_PER_REQUEST');
    assert.equal(table.Properties.DeletionProtectionEnabled, true);
    assert.deepEqual(table.Properties.TimeToLiveSpecification, { AttributeName: 'ttl', Enabled: true });
    assert.deepEqual(
      table.Properties.GlobalSecondaryIndexes.map((i: Json) => [i.IndexName, i.Projection.ProjectionType]),
      [
        ['gsi1', 'KEYS_ONLY'],
        ['gsi2', 'KEYS_ONLY'],
      ],
    );
    assert.equal(table.Properties.StreamSpecification.StreamViewType, 'NEW_IMAGE');
    assert.equal(table.Properties.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled, true);
  });

  it('allows no wildcard action anywhere, and nothing on DynamoDB, SSM or SQS with a wildcard resource', () => {
    for (const { template } of [prod, egress]) {
      const allows = statements(template).filter((s) => s.Effect === 'Allow');
      assert.ok(allows.length > 20);
      for (const statement of allows) {
        for (const action of list<string>(statement.Action)) assert.doesNotMatch(action, /\*/, `wildcard action ${action}`);
        const scoped = list<string>(statement.Action).some((a) => /^(dynamodb|ssm|sqs|kms):/.test(a));
        if (scoped) assert.ok(!list(statement.Resource).includes('*'), `${JSON.stringify(statement.Action)} on *`);
      }
    }
  });

  it('runs every function as its own role, allowed exactly the DynamoDB calls its code makes', async () => {
    const { template } = prod;
    const roles = FUNCTIONS.map((fn) => template.Resources[`${fn}LambdaFunction`].Properties.Role['Fn::GetAtt'][0]);
    assert.deepEqual(
      roles,
      FUNCTIONS.map((fn) => `${fn}Role`),
    );
    assert.equal(template.Resources.IamRoleLambdaExecution, undefined);
    for (const fn of FUNCTIONS) {
      const issued = await issuedActions(fn.toLowerCase());
      const granted = [...new Set(dynamoActions(template, fn))].filter((a) => !STREAM_ACTIONS.includes(a));
      assert.deepEqual(granted, issued.actions, `${fn}: infra/iam.yml must grant exactly what the code calls`);
      const onIndex = statements(template.Resources[`${fn}Role`]).some((s) => JSON.stringify(s.Resource ?? '').includes('/index/gsi'));
      assert.equal(onIndex, issued.usesIndex, `${fn}: Query on an index`);
    }
    // The stream is read by the event source mappings only (EVENT items, outbox items, rollout accounts); the outbox
    // delivery touches no table item.
    const readers = FUNCTIONS.filter((fn) => dynamoActions(template, fn).includes('dynamodb:GetRecords'));
    assert.deepEqual(readers, ['Authorized', 'Fleet', 'Events']);
    assert.deepEqual(dynamoActions(template, 'Events'), STREAM_ACTIONS);
    assert.deepEqual(dynamoActions(template, 'Ticket'), ['dynamodb:PutItem']);
  });

  it('gives every function a timeout that covers the longest lease or claim it can hold plus its WeChat calls', () => {
    const timeoutMs = (fn: string) => Number(prod.template.Resources[`${fn}LambdaFunction`].Properties.Timeout) * 1000;
    for (const fn of FUNCTIONS) {
      const needs = FUNCTION_NEEDS_MS[fn.toLowerCase() as keyof typeof FUNCTION_NEEDS_MS];
      assert.ok(timeoutMs(fn) >= needs, `${fn}: timeout ${timeoutMs(fn)} ms < ${needs} ms (lib/kernel/limits.ts FUNCTION_NEEDS_MS)`);
    }
    assert.deepEqual(Object.keys(FUNCTION_NEEDS_MS).sort(), FUNCTIONS.map((fn) => fn.toLowerCase()).sort());
    // The other way round for deliveries: the claim outlives the function, so a live handler is never taken over.
    assert.ok(MESSAGE_HANDLING_MS >= timeoutMs('Message'), 'a delivery claim lasts at least the message function timeout');
  });

  it('lets each role read exactly the SecureStrings its SECRETS names, and write only its own log group', () => {
    const held: Record<string, string[]> = {
      Ticket: ['token', 'encoding-aes-key'],
      Message: ['token', 'encoding-aes-key'],
      Authorize: ['app-secret', 'link-signing-key'],
      Authorized: ['app-secret'],
      Fleet: ['app-secret'],
      Refresh: ['app-secret'],
      Token: ['app-secret'],
      Admin: ['app-secret', 'link-signing-key'],
      Login: ['app-secret'],
    };
    for (const fn of FUNCTIONS.filter((f) => !WITHOUT_SECRETS.includes(f))) {
      const own = statements(prod.template.Resources[`${fn}Role`]);
      const ssm = own.filter((s) => list<string>(s.Action).includes('ssm:GetParameters'));
      const variables = prod.template.Resources[`${fn}LambdaFunction`].Properties.Environment.Variables;
      if (WITHOUT_SECRETS.includes(fn)) {
        assert.deepEqual([ssm, variables.SECRETS], [[], undefined], `${fn} reads no secret`);
      } else {
        assert.equal(ssm.length, 1);
        const granted = list<Json>(ssm[0]!.Resource).map((r) => r['Fn::Sub'].replace(/^.*:parameter/, ''));
        assert.deepEqual(
          granted,
          held[fn]!.map((name) => `/wechat-component/prod/${name}`),
          fn,
        );
        assert.equal(variables.SECRETS, held[fn]!.join(','), `${fn}: SECRETS asks for exactly what the role may read`);
      }
      const logs = own.filter((s) => list<string>(s.Action).some((a) => a.startsWith('logs:')));
      assert.deepEqual(
        logs.map((s) => s.Resource),
        [{ 'Fn::GetAtt': [`${fn}LogGroup`, 'Arn'] }],
      );
    }
  });

  it('puts no secret in any environment, and pins the endpoints whatever the shell says', () => {
    for (const { template, text } of [prod, egress]) {
      for (const [, fn] of ofType(template, 'AWS::Lambda::Function')) {
        const variables = fn.Properties.Environment.Variables as Record<string, unknown>;
        for (const name of SECRET_NAMES) assert.equal(variables[name], undefined, `${name} in the environment`);
        assert.equal(variables.SSM_PARAMETER_PATH, '/wechat-component/prod');
        assert.equal(variables.DYNAMODB_ENDPOINT, '');
        assert.equal(variables.WECHAT_API_BASE_URL, 'https://api.weixin.qq.com');
        assert.equal(variables.AWS_ENDPOINT_URL_EVENTBRIDGE, undefined);
        assert.equal(variables.COMPONENT_APPID, COMPONENT_APPID);
        assert.equal(variables.PUSH_MAX_SKEW_S, '', 'the default 600 s, never the shell value 0 (freshness check off)');
        assert.equal(variables.LOG_LEVEL, 'info');
        // --enable-source-maps parsed the map at every cold start; stacks are mapped when logged (lib/kernel/stack-trace.ts).
        assert.equal(variables.NODE_OPTIONS, undefined);
        assert.deepEqual(variables.PUBLIC_BASE_URL, { 'Fn::Sub': 'https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}' });
      }
      for (const [name, value] of Object.entries(SHELL)) {
        if (value.length > 3) assert.ok(!text.includes(value), `${name} from the shell leaked into the template`);
      }
    }
  });

  it('refuses to package a deployed stage without componentAppId, whatever the shell says', async () => {
    // Act
    const { code, output } = await runPackage([]);
    // Assess
    assert.notEqual(code, 0);
    assert.match(output, /"provider.environment.COMPONENT_APPID": Value not found at "param" source/);
  });

  it('consumes the stream with a filter, bisection, bounded retries and an SQS failure destination, once per consumer', () => {
    const mappings = ofType(prod.template, 'AWS::Lambda::EventSourceMapping').map(([, m]) => m.Properties as Json);
    const consumers: [string, string][] = [
      ['AuthorizedLambdaFunction', 'EVENT'],
      ['EventsLambdaFunction', 'OUTBOX'],
    ];
    assert.equal(mappings.length, consumers.length + 1);
    for (const [fn, sk] of consumers) {
      const props = mappings.find((m) => m.FunctionName['Fn::GetAtt'][0] === fn)!;
      assert.deepEqual(JSON.parse(props.FilterCriteria.Filters[0].Pattern), { eventName: ['INSERT'], dynamodb: { Keys: { sk: { S: [sk] } } } }, fn);
      assert.equal(props.BisectBatchOnFunctionError, true);
      assert.deepEqual(props.FunctionResponseTypes, ['ReportBatchItemFailures']);
      assert.ok(props.MaximumRetryAttempts > 0 && props.MaximumRetryAttempts <= 10);
      assert.ok(props.MaximumRecordAgeInSeconds > 0);
      const queue = fn.replace('LambdaFunction', 'FailureQueue');
      assert.deepEqual(props.DestinationConfig.OnFailure.Destination, { 'Fn::GetAtt': [queue, 'Arn'] });
      assert.equal(prod.template.Resources[queue].Type, 'AWS::SQS::Queue');
    }
    const of = (fn: string) => mappings.find((m) => JSON.stringify(m.FunctionName).includes(`${fn}LambdaFunction`))!;
    const fleet = of('Fleet');
    assert.deepEqual(JSON.parse(fleet.FilterCriteria.Filters[0].Pattern), {
      eventName: ['INSERT', 'MODIFY'],
      dynamodb: { Keys: { sk: { S: [{ prefix: 'ACCOUNT#' }] } } },
    });
    assert.equal(fleet.FunctionResponseTypes[0], 'ReportBatchItemFailures');
    assert.deepEqual(fleet.DestinationConfig.OnFailure.Destination, { 'Fn::GetAtt': ['FleetFailureQueue', 'Arn'] });
  });

  it('creates its own event bus with an archive, and lets only the events function put events, on that bus alone', () => {
    const { Resources, Outputs } = prod.template;
    assert.equal(Resources.PlatformEventBus.Properties.Name, 'wechat-component-prod');
    const archive = Resources.PlatformEventArchive.Properties;
    assert.deepEqual(archive.EventPattern, { source: ['wechat.component'] });
    assert.equal(prod.template.Parameters.EventBusParam.Default, 'own');
    const putters = FUNCTIONS.filter((fn) =>
      statements(Resources[`${fn}Role`]).some((s) => list<string>(s.Action).some((a) => a.startsWith('events:'))),
    );
    assert.deepEqual(putters, ['Events']);
    const [put] = statements(Resources.EventsRole).filter((s) => list<string>(s.Action).includes('events:PutEvents'));
    assert.deepEqual(list(put!.Action), ['events:PutEvents']);
    assert.deepEqual(put!.Resource['Fn::If'][1], { 'Fn::GetAtt': ['PlatformEventBus', 'Arn'] });
    assert.equal(Resources.EventsLambdaFunction.Properties.Environment.Variables.EVENT_BUS_NAME, 'wechat-component-prod');
    assert.deepEqual(Outputs.EventBusName.Value['Fn::If'][1], { Ref: 'PlatformEventBus' });
    assert.equal(Resources.MessageLambdaFunction.Properties.Environment.Variables.ACCOUNT_MESSAGE_EVENTS, '');
  });

  it('gives the refresh schedule a dead-letter queue EventBridge may write to, and its async invoke a failure destination', () => {
    const { Resources } = prod.template;
    const [target] = Resources.RefreshEventsRuleSchedule1.Properties.Targets;
    assert.deepEqual(target.Arn, { 'Fn::GetAtt': ['RefreshLambdaFunction', 'Arn'] });
    assert.deepEqual(target.DeadLetterConfig.Arn, { 'Fn::GetAtt': ['RefreshFailureQueue', 'Arn'] });
    const [grant] = Resources.RefreshFailureQueuePolicy.Properties.PolicyDocument.Statement;
    assert.deepEqual(grant.Principal, { Service: 'events.amazonaws.com' });
    assert.deepEqual(grant.Condition.ArnEquals['aws:SourceArn'], { 'Fn::GetAtt': ['RefreshEventsRuleSchedule1', 'Arn'] });
    const invoke = Resources.RefreshLambdaEvConf.Properties;
    assert.deepEqual(invoke.DestinationConfig.OnFailure.Destination, { 'Fn::GetAtt': ['RefreshFailureQueue', 'Arn'] });
  });

  it('alarms on a missing ticket, token refresh failures per errcode, non-empty queues and function errors', () => {
    const alarms = ofType(prod.template, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties as Json);
    const metric = (name: string, dims: Record<string, unknown> = {}) =>
      alarms.filter(
        (a) =>
          a.MetricName === name &&
          Object.entries(dims).every(([k, v]) => a.Dimensions?.some((d: Json) => d.Name === k && JSON.stringify(d.Value) === JSON.stringify(v))),
      );
    const [noTicket] = metric('TicketAgeSeconds', { ComponentAppId: COMPONENT_APPID });
    assert.equal(noTicket?.Namespace, 'WeChatComponent');
    assert.equal(noTicket?.Threshold, 3600);
    assert.equal(noTicket?.TreatMissingData, 'breaching');
    assert.equal(metric('ComponentTokenRefreshFailed').length, 1);
    for (const errcode of ['45009', '61023', '-1', '61004']) assert.equal(metric('AuthorizerRefreshFailed', { Errcode: errcode }).length, 1, errcode);
    assert.ok(alarms.some((a) => a.Metrics?.some((m: Json) => /AuthorizerRefreshFailed/.test(m.Expression))));
    assert.equal(metric('NeedsReauth').length, 1);
    assert.equal(metric('JsapiTicketFailed', { Errcode: '45009' }).length, 1);
    for (const queue of ['AuthorizedFailureQueue', 'FleetFailureQueue', 'RefreshFailureQueue', 'EventsFailureQueue']) {
      assert.equal(metric('ApproximateNumberOfMessagesVisible', { QueueName: { 'Fn::GetAtt': [queue, 'QueueName'] } }).length, 1, queue);
    }
    for (const fn of FUNCTIONS) assert.equal(metric('Errors', { FunctionName: { Ref: `${fn}LambdaFunction` } }).length, 1, fn);
    for (const name of ['EventDeliveryFailed', 'EventsUndeliverable']) assert.equal(metric(name).length, 1, name);
    assert.equal(metric('IteratorAge', { FunctionName: { Ref: 'EventsLambdaFunction' } }).length, 1);
    assert.ok(alarms.every((a) => a.AlarmActions['Fn::If'][0] === 'HasAlarmActions'));
  });

  it('outputs the URLs to paste into the WeChat console', () => {
    const { Outputs } = prod.template;
    const base = { 'Fn::Sub': 'https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}' };
    assert.deepEqual(Outputs.AuthorizationEventUrl.Value, { 'Fn::Join': ['', [base, '/wechat/component/events']] });
    assert.deepEqual(Outputs.MessageEventUrl.Value, { 'Fn::Join': ['', [base, '/wechat/authorizers/$APPID$/callback']] });
    assert.deepEqual(Outputs.LoginFunctionArn.Value, { 'Fn::GetAtt': ['LoginLambdaFunction', 'Arn'] });
    assert.deepEqual(Outputs.AuthorizationPageDomain.Value, { 'Fn::Select': [2, { 'Fn::Split': ['/', base] }] });
    assert.ok(Outputs.AuthorizationStartPageUrl);
  });

  it('leaves every function out of a VPC and creates no network by default', () => {
    for (const fn of FUNCTIONS) assert.equal(prod.template.Resources[`${fn}LambdaFunction`].Properties.VpcConfig, undefined, fn);
    assert.deepEqual(ofType(prod.template, 'AWS::EC2::VPC'), []);
    assert.equal(prod.template.Outputs.EgressIp, undefined);
    assert.ok(!statements(prod.template).some((s) => list<string>(s.Action).some((a) => a.startsWith('ec2:'))));
  });
});

/** The pk prefixes a function's code builds keys with (lib/store/keys.ts template literals in its bundle). */
const builtPrefixes = async (fn: string): Promise<string[]> => {
  const out = await build({
    entryPoints: [join(ROOT, `functions/${fn}/handler.ts`)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    write: false,
  });
  return [...new Set([...out.outputFiles[0]!.text.matchAll(/`([A-Z][A-Z_]*)#\$\{/g)].map((m) => m[1]!))].sort();
};

const WRITES = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:BatchWriteItem'];
/** Prefixes a function only reads (its role has no write on them). */
const READ_ONLY: Record<string, string[]> = { Message: ['AUTHORIZER'], Authorized: ['PREAUTH'], Events: ['OUTBOX'] };

describe('sls package --stage prod: least privilege and the public surface', () => {
  it('holds every write of every role to the item kinds its code builds, by dynamodb:LeadingKeys', async () => {
    for (const fn of FUNCTIONS) {
      const own = statements(prod.template.Resources[`${fn}Role`]).filter((s) => list<string>(s.Action).some((a) => WRITES.includes(a)));
      for (const s of own)
        assert.ok(s.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'], `${fn}: ${s.Sid} writes without LeadingKeys`);
      const granted = own.flatMap((s) => list<string>(s.Condition['ForAllValues:StringLike']['dynamodb:LeadingKeys']));
      const prefixes = [...new Set(granted.map((k) => k.slice(0, k.indexOf('#'))))].sort();
      const built = (await builtPrefixes(fn.toLowerCase())).filter((p) => !(READ_ONLY[fn] ?? []).includes(p));
      assert.deepEqual(prefixes, built, `${fn}: LeadingKeys must cover exactly the item kinds it writes`);
      const component = granted.filter((k) => k.startsWith('COMPONENT#'));
      for (const key of component) assert.equal(key, `COMPONENT#${COMPONENT_APPID}`, `${fn}: the component partition is its own appid only`);
    }
    // The public push functions can never write a profile (its refresh token).
    for (const fn of ['Ticket', 'Message']) {
      const granted = JSON.stringify(
        statements(prod.template.Resources[`${fn}Role`]).filter((s) => list<string>(s.Action).some((a) => WRITES.includes(a))),
      );
      assert.ok(!granted.includes('AUTHORIZER#'), fn);
    }
  });

  it("lets message read a profile's status, gh_ id and tenant only, exactly what getAccountStatus projects", () => {
    const reads = statements(prod.template.Resources.MessageRole).filter((s) => list<string>(s.Action).includes('dynamodb:GetItem'));
    assert.equal(reads.length, 1);
    const [read] = reads as [Json];
    assert.deepEqual(list(read.Action), ['dynamodb:GetItem']);
    assert.deepEqual(read.Condition['ForAllValues:StringLike']['dynamodb:LeadingKeys'], ['AUTHORIZER#*']);
    assert.deepEqual(read.Condition['ForAllValues:StringEquals']['dynamodb:Attributes'], ['pk', 'sk', ...ACCOUNT_STATUS_ATTRIBUTES]);
    assert.ok(!ACCOUNT_STATUS_ATTRIBUTES.some((a) => /refresh|token/i.test(a)), 'never a refresh token');
    assert.equal(read.Condition.StringEqualsIfExists['dynamodb:Select'], 'SPECIFIC_ATTRIBUTES');
  });

  it('throttles each route, the GET pages to a few requests per second, and reserves concurrency for authorize', () => {
    const stage = prod.template.Resources.HttpApiStage.Properties;
    const routes = stage.RouteSettings as Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }>;
    for (const route of ['GET /wechat/component/authorize', 'GET /wechat/component/authorized']) {
      assert.ok(routes[route]!.ThrottlingRateLimit <= 10 && routes[route]!.ThrottlingBurstLimit <= 20, route);
    }
    assert.ok(routes['POST /wechat/component/events']!.ThrottlingRateLimit >= 10);
    assert.ok(routes['POST /wechat/authorizers/{appid}/callback']!.ThrottlingRateLimit >= 500);
    // Every route the API serves has its own setting.
    const served = ofType(prod.template, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties.RouteKey as string);
    assert.deepEqual(Object.keys(routes).sort(), served.sort());
    assert.ok(stage.DefaultRouteSettings.ThrottlingRateLimit > 0);
    const concurrency = FUNCTIONS.map((fn) => [fn, prod.template.Resources[`${fn}LambdaFunction`].Properties.ReservedConcurrentExecutions]);
    assert.deepEqual(
      concurrency.filter(([, c]) => c !== undefined),
      [['Authorize', 5]],
    );
  });

  it('writes access logs that carry the route key, never the path or the query string', () => {
    const { Format } = prod.template.Resources.HttpApiStage.Properties.AccessLogSettings;
    const fields = JSON.parse(Format) as Record<string, string>;
    assert.equal(fields.routeKey, '$context.routeKey');
    assert.ok(!/\$context\.(path|http\.path|requestOverride|identity\.userAgent)|querystring|rawQueryString/i.test(Format), Format);
    assert.ok(prod.template.Resources.HttpApiLogGroup);
  });

  it('alarms when the authorization pages get 45009', () => {
    const alarm = prod.template.Resources.AuthorizationPageQuotaAlarm.Properties;
    assert.equal(alarm.Namespace, 'WeChatComponent');
    assert.equal(alarm.MetricName, 'AuthorizationPageQuotaExhausted');
    assert.equal(alarm.Dimensions, undefined, 'the rolled-up metric, whatever the API');
    assert.equal(alarm.Threshold, 0);
  });

  it('gives the token function no resource policy by default, and one exactly for each tokenCallerRoleArns role', () => {
    assert.deepEqual(
      ofType(prod.template, 'AWS::Lambda::Permission').filter(([, p]) => JSON.stringify(p).includes('TokenLambdaFunction')),
      [],
    );
    const permissions = ofType(egress.template, 'AWS::Lambda::Permission').map(([, p]) => p.Properties);
    const token = permissions.filter((p) => JSON.stringify(p.FunctionName).includes('TokenLambdaFunction'));
    assert.deepEqual(
      token.map((p) => [p.Action, p.Principal]),
      CALLERS.map((arn) => ['lambda:InvokeFunction', arn]),
    );
    const policy = prod.template.Resources.TokenInvokePolicy.Properties.PolicyDocument.Statement;
    assert.deepEqual(policy, [
      { Sid: 'InvokeToken', Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': ['TokenLambdaFunction', 'Arn'] } },
    ]);
    assert.deepEqual(prod.template.Outputs.TokenInvokePolicyArn.Value, { Ref: 'TokenInvokePolicy' });
  });

  it('encrypts the table with tableKmsKeyArn when given, and lets each role use that key through DynamoDB only', () => {
    assert.deepEqual(prod.template.Resources.ComponentTable.Properties.SSESpecification['Fn::If'][2], { SSEEnabled: true });
    assert.equal(egress.template.Parameters.TableKmsKeyArn.Default, TABLE_KEY);
    assert.equal(prod.template.Parameters.TableKmsKeyArn.Default, '');
    for (const fn of FUNCTIONS) {
      const key = statements(egress.template.Resources[`${fn}Role`]).find((s) => s.Sid === 'TableKeyViaDynamoDb');
      assert.deepEqual(key?.Resource, { Ref: 'TableKmsKeyArn' }, fn);
      assert.deepEqual(key?.Condition.StringEquals['kms:ViaService'], { 'Fn::Sub': 'dynamodb.${AWS::Region}.amazonaws.com' });
    }
  });
});

describe('sls package --stage prod --param=fixedEgressIp=true --param=eventBusName=<an existing bus>', () => {
  it('delivers to the existing bus: no bus of its own, the archive and PutEvents on that one', () => {
    const { template } = egress;
    assert.equal(template.Parameters.EventBusParam.Default, EXISTING_BUS);
    assert.equal(template.Resources.EventsLambdaFunction.Properties.Environment.Variables.EVENT_BUS_NAME, EXISTING_BUS);
    // The bus and archive resources stay conditional on CreateEventBus, which is false for this parameter value.
    assert.equal(template.Resources.PlatformEventBus.Condition, 'CreateEventBus');
    assert.deepEqual(template.Conditions.CreateEventBus, { 'Fn::Equals': [{ Ref: 'EventBusParam' }, 'own'] });
    assert.equal(template.Resources.PlatformEventArchive.Condition, undefined);
    assert.equal(template.Resources.EventsLambdaFunction.Properties.VpcConfig, undefined, 'the delivery calls no WeChat API');
  });

  it('creates a VPC whose private subnets leave through one NAT gateway and one Elastic IP', () => {
    const { template } = egress;
    for (const type of ['AWS::EC2::VPC', 'AWS::EC2::NatGateway', 'AWS::EC2::EIP', 'AWS::EC2::InternetGateway']) {
      assert.equal(ofType(template, type).length, 1, type);
    }
    const routes = ofType(template, 'AWS::EC2::Route').map(([, r]) => r.Properties);
    assert.ok(routes.some((r) => r.RouteTableId.Ref === 'PrivateRouteTable' && r.NatGatewayId?.Ref === 'NatGateway'));
    const [[, endpoint]] = ofType(template, 'AWS::EC2::VPCEndpoint') as [[string, Json]];
    assert.equal(endpoint.Properties.VpcEndpointType, 'Gateway');
    assert.deepEqual(endpoint.Properties.ServiceName, { 'Fn::Sub': 'com.amazonaws.${AWS::Region}.dynamodb' });
    assert.deepEqual(template.Outputs.EgressIp.Value, { Ref: 'EgressIp' });
  });

  it('places only the WeChat-calling functions in the private subnets, with the ENI permissions they need', () => {
    const { template } = egress;
    for (const fn of FUNCTIONS) {
      const vpc = template.Resources[`${fn}LambdaFunction`].Properties.VpcConfig;
      if (WECHAT_CALLERS.includes(fn)) assert.deepEqual(vpc.SubnetIds, [{ Ref: 'PrivateSubnetA' }, { Ref: 'PrivateSubnetB' }], fn);
      else assert.equal(vpc, undefined, `${fn} must stay out of the VPC`);
      const waits = list(template.Resources[`${fn}LambdaFunction`].DependsOn).includes('EgressNetworkInterfacesPolicy');
      assert.equal(waits, WECHAT_CALLERS.includes(fn), `${fn} waits for the ENI policy`);
    }
    const eni = template.Resources.EgressNetworkInterfacesPolicy.Properties;
    assert.deepEqual(
      eni.Roles,
      WECHAT_CALLERS.map((fn) => ({ Ref: `${fn}Role` })),
    );
    assert.ok(statements(eni).some((s) => list<string>(s.Action).includes('ec2:CreateNetworkInterface')));
  });
});
