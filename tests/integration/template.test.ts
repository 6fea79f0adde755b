// The deployable CloudFormation template, as `npx sls package --stage prod` generates it offline (no AWS
// account): once as deployed by default and once with the fixed egress IP on. Each run bundles all six functions
// in its own esbuild work folder so a running `npm start` (which bundles into .esbuild) is never disturbed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

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
  DYNAMODB_ENDPOINT: 'http://127.0.0.1:18000',
  WECHAT_API_BASE_URL: 'http://127.0.0.1:18001',
};
const SECRET_NAMES = ['COMPONENT_APPSECRET', 'COMPONENT_TOKEN', 'COMPONENT_ENCODING_AES_KEY'];
const FUNCTIONS = ['Ticket', 'Message', 'Authorize', 'Authorized', 'Refresh', 'Token'];
const WECHAT_CALLERS = ['Authorize', 'Authorized', 'Refresh', 'Token'];

const dirs: string[] = [];

/** Runs `sls package --stage prod` into a temp dir; kills the whole process group if it hangs (a failed esbuild build does). */
const packageStack = async (extraArgs: string[]): Promise<Packaged> => {
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
  assert.equal(code, 0, `sls package ${extraArgs.join(' ')} failed (${code}):\n${output.slice(-4000)}`);
  const text = readFileSync(join(dir, 'out', 'cloudformation-template-update-stack.json'), 'utf8');
  return { dir: join(dir, 'out'), template: JSON.parse(text) as Json, text, seconds: (Date.now() - started) / 1000 };
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
    egress = await packageStack(['--param=fixedEgressIp=true']);
  },
  { timeout: 2 * PACKAGE_TIMEOUT_MS + 10_000 },
);

after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('sls package --stage prod', () => {
  it('packages all six functions offline, with no AWS account', (t) => {
    t.diagnostic(`sls package took ${prod.seconds} s, and ${egress.seconds} s with the egress IP`);
    const zips = readdirSync(prod.dir)
      .filter((f) => f.endsWith('.zip'))
      .sort();
    assert.deepEqual(zips, ['authorize.zip', 'authorized.zip', 'message.zip', 'refresh.zip', 'ticket.zip', 'token.zip']);
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
    // The stream is read by the authorized function's event source mapping only.
    const readers = FUNCTIONS.filter((fn) => dynamoActions(template, fn).includes('dynamodb:GetRecords'));
    assert.deepEqual(readers, ['Authorized']);
    assert.deepEqual(dynamoActions(template, 'Ticket'), ['dynamodb:PutItem']);
  });

  it('lets each role read exactly the three SecureStrings of its stage and write only its own log group', () => {
    for (const fn of FUNCTIONS) {
      const own = statements(prod.template.Resources[`${fn}Role`]);
      const ssm = own.filter((s) => list<string>(s.Action).includes('ssm:GetParameters'));
      assert.equal(ssm.length, 1);
      assert.deepEqual(
        list<Json>(ssm[0]!.Resource).map((r) => r['Fn::Sub'].replace(/^.*:parameter/, '')),
        ['/wechat-component/prod/app-secret', '/wechat-component/prod/token', '/wechat-component/prod/encoding-aes-key'],
      );
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
      }
      for (const value of Object.values(SHELL)) assert.ok(!text.includes(value), `${value} leaked into the template`);
    }
  });

  it('consumes the stream with a filter, bisection, bounded retries and an SQS failure destination', () => {
    const [[, mapping]] = ofType(prod.template, 'AWS::Lambda::EventSourceMapping') as [[string, Json]];
    const props = mapping.Properties;
    assert.deepEqual(JSON.parse(props.FilterCriteria.Filters[0].Pattern), { eventName: ['INSERT'], dynamodb: { Keys: { sk: { S: ['EVENT'] } } } });
    assert.equal(props.BisectBatchOnFunctionError, true);
    assert.ok(props.MaximumRetryAttempts > 0 && props.MaximumRetryAttempts <= 10);
    assert.ok(props.MaximumRecordAgeInSeconds > 0);
    assert.deepEqual(props.DestinationConfig.OnFailure.Destination, { 'Fn::GetAtt': ['AuthorizedFailureQueue', 'Arn'] });
    assert.equal(prod.template.Resources.AuthorizedFailureQueue.Type, 'AWS::SQS::Queue');
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
    const [noTicket] = metric('TicketAgeSeconds', { ComponentAppId: 'wx5ce1ab0c0ffee000' });
    assert.equal(noTicket?.Namespace, 'WeChatComponent');
    assert.equal(noTicket?.Threshold, 3600);
    assert.equal(noTicket?.TreatMissingData, 'breaching');
    assert.equal(metric('ComponentTokenRefreshFailed').length, 1);
    for (const errcode of ['45009', '61023', '-1', '61004']) assert.equal(metric('AuthorizerRefreshFailed', { Errcode: errcode }).length, 1, errcode);
    assert.ok(alarms.some((a) => a.Metrics?.some((m: Json) => /AuthorizerRefreshFailed/.test(m.Expression))));
    assert.equal(metric('NeedsReauth').length, 1);
    for (const queue of ['AuthorizedFailureQueue', 'RefreshFailureQueue']) {
      assert.equal(metric('ApproximateNumberOfMessagesVisible', { QueueName: { 'Fn::GetAtt': [queue, 'QueueName'] } }).length, 1, queue);
    }
    for (const fn of FUNCTIONS) assert.equal(metric('Errors', { FunctionName: { Ref: `${fn}LambdaFunction` } }).length, 1, fn);
    assert.ok(alarms.every((a) => a.AlarmActions['Fn::If'][0] === 'HasAlarmActions'));
  });

  it('outputs the URLs to paste into the WeChat console', () => {
    const { Outputs } = prod.template;
    const base = { 'Fn::Sub': 'https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}' };
    assert.deepEqual(Outputs.AuthorizationEventUrl.Value, { 'Fn::Join': ['', [base, '/wechat/component/events']] });
    assert.deepEqual(Outputs.MessageEventUrl.Value, { 'Fn::Join': ['', [base, '/wechat/authorizers/$APPID$/callback']] });
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

describe('sls package --stage prod --param=fixedEgressIp=true', () => {
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
