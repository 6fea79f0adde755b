import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { heldSecrets, type ComponentSecrets, type Config } from '../../../lib/runtime/config.ts';
import { createSsmClient } from '../../../lib/runtime/deps.ts';
import { ConfigError } from '../../../lib/kernel/errors.ts';
import { createMemoryLogger } from '../../../lib/kernel/logger.ts';
import { RejectedRequestError } from '../../../lib/kernel/errors.ts';
import { httpErrorBoundary, text, type HttpEvent } from '../../../lib/runtime/http.ts';
import { lambda } from '../../../lib/runtime/lambda.ts';
import { loadSecrets } from '../../../lib/runtime/secrets.ts';
import { createSsmSecretsSource, MIN_REFRESH_INTERVAL_MS } from '../../../lib/runtime/ssm-secrets.ts';
import { context } from '../../helpers/context.ts';

// A real HTTP server speaking the SSM JSON protocol (awsJson1_1, X-Amz-Target: AmazonSSM.GetParameters);
// the SDK client reaches it through an endpoint override, exactly as it reaches SSM in AWS.
interface Parameter {
  Value: string;
  Type?: string;
}
interface SsmRequest {
  target: string | undefined;
  body: { Names: string[]; WithDecryption?: boolean };
}

const PATH = '/wechat-component/test';
const AES_KEY_1 = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const AES_KEY_2 = 'ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut';

let server: Server;
let endpoint: string;
let parameters: Map<string, Parameter>;
let requests: SsmRequest[];

const put = (name: string, Value: string, Type = 'SecureString') => parameters.set(`${PATH}/${name}`, { Value, Type });

const config = (overrides: Partial<Config> = {}): Config => ({
  componentAppId: 'wx1234567890abcdef',
  tableName: 't',
  wechatApiBaseUrl: 'https://api.weixin.qq.com',
  dynamodbEndpoint: undefined,
  publicBaseUrl: 'https://example.com',
  pushMaxSkewS: 600,
  refreshConcurrency: 16,
  refreshWorkers: 1,
  lambdaEndpoint: undefined,
  logLevel: 'info',
  awsRegion: undefined,
  awsCredentialsInEnv: false,
  ssmParameterPath: PATH,
  eventBusName: undefined,
  eventBridgeEndpoint: undefined,
  accountMessageEvents: [],
  secretNames: ['appSecret', 'token', 'encodingAesKey'],
  secrets: undefined,
  ...overrides,
});

const client = () => createSsmClient({ endpoint, region: 'ap-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });

const rejection = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return assert.fail('expected a rejection');
};

before(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as SsmRequest['body'];
      requests.push({ target: req.headers['x-amz-target'] as string | undefined, body });
      const found = body.Names.filter((n) => parameters.has(n));
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(
        JSON.stringify({
          Parameters: found.map((Name) => ({ Name, Type: parameters.get(Name)!.Type, Value: parameters.get(Name)!.Value, Version: 1 })),
          InvalidParameters: body.Names.filter((n) => !parameters.has(n)),
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  parameters = new Map();
  requests = [];
  put('app-secret', 'app-secret-value-1');
  put('token', 'tokenOne');
  put('encoding-aes-key', AES_KEY_1);
});

describe('createSsmSecretsSource', () => {
  it('fetches all three SecureStrings in one decrypting GetParameters call and caches them', async () => {
    // Prepare
    const source = createSsmSecretsSource({ client });
    // Act
    const first = await source.get(config());
    const second = await source.get(config());
    // Assess
    assert.deepEqual(first, { appSecret: 'app-secret-value-1', token: 'tokenOne', encodingAesKey: AES_KEY_1 });
    assert.equal(second, first);
    assert.equal(requests.length, 1);
    assert.equal(requests[0]?.target, 'AmazonSSM.GetParameters');
    assert.deepEqual(requests[0]?.body, { Names: [`${PATH}/app-secret`, `${PATH}/token`, `${PATH}/encoding-aes-key`], WithDecryption: true });
  });

  it('fetches only the secrets the function holds, and refuses to hand out any other', async () => {
    // Prepare
    put('link-signing-key', 'k'.repeat(43));
    const source = createSsmSecretsSource({ client });
    // Act
    const push = await createSsmSecretsSource({ client }).get(config({ secretNames: ['token', 'encodingAesKey'] }));
    const pages = await source.get(config({ secretNames: ['appSecret', 'linkSigningKey'] }));
    // Assess
    assert.deepEqual(requests[0]?.body.Names, [`${PATH}/token`, `${PATH}/encoding-aes-key`]);
    assert.deepEqual(requests[1]?.body.Names, [`${PATH}/app-secret`, `${PATH}/link-signing-key`]);
    assert.deepEqual(Object.keys(push), ['token', 'encodingAesKey']);
    assert.equal(pages.linkSigningKey, 'k'.repeat(43));
    assert.throws(
      () => push.appSecret,
      (e: unknown) => e instanceof ConfigError && /does not hold COMPONENT_APPSECRET/.test(e.message),
    );
    assert.throws(
      () => pages.token,
      (e: unknown) => e instanceof ConfigError && /its SECRETS: app-secret, link-signing-key/.test(e.message),
    );
  });

  it('does not build the client while the cache answers', async () => {
    // Prepare
    let built = 0;
    const source = createSsmSecretsSource({ client: () => (built++, client()) });
    // Act
    await Promise.all([source.get(config()), source.get(config()), source.get(config())]);
    await source.get(config());
    // Assess
    assert.equal(built, 1);
    assert.equal(requests.length, 1);
  });

  it('refetches on refresh, at most once per interval, and keeps the object when nothing changed', async () => {
    // Prepare
    let now = 1_000_000;
    const source = createSsmSecretsSource({ client, clock: () => now });
    const first = await source.get(config());
    // Act
    const tooSoon = await source.get(config(), true);
    now += MIN_REFRESH_INTERVAL_MS;
    const unchanged = await source.get(config(), true);
    put('token', 'tokenTwo');
    now += MIN_REFRESH_INTERVAL_MS;
    const rotated = await source.get(config(), true);
    // Assess
    assert.equal(tooSoon, first);
    assert.equal(unchanged, first);
    assert.equal(rotated.token, 'tokenTwo');
    assert.equal(requests.length, 3);
  });

  it('keeps serving the cached secrets when a forced refetch fails', async () => {
    // Prepare
    let now = 1_000_000;
    const source = createSsmSecretsSource({ client, clock: () => now });
    const first = await source.get(config());
    parameters.delete(`${PATH}/token`);
    now += MIN_REFRESH_INTERVAL_MS;
    // Act
    const afterFailure = await source.get(config(), true);
    // Assess
    assert.equal(afterFailure, first);
    assert.equal(requests.length, 2);
  });

  it('names missing and non-SecureString parameters without echoing any value, and caches nothing', async () => {
    // Prepare
    parameters.delete(`${PATH}/app-secret`);
    put('token', 'plainToken', 'String');
    put('encoding-aes-key', 'too-short-key-value');
    const source = createSsmSecretsSource({ client });
    // Act
    const error = await rejection(source.get(config()));
    // Assess
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems, [
      `SSM parameter ${PATH}/token must be a SecureString`,
      `SSM parameter ${PATH}/app-secret is missing`,
      `SSM parameter ${PATH}/encoding-aes-key must be 43 letters or digits`,
    ]);
    assert.doesNotMatch(error.message, /plainToken|too-short-key-value/);
    put('app-secret', 'app-secret-value-1');
    put('token', 'tokenOne');
    put('encoding-aes-key', AES_KEY_1);
    assert.equal((await source.get(config())).token, 'tokenOne');
    assert.equal(requests.length, 2);
  });

  it('registers every fetched value so no log line can carry it', async () => {
    // Prepare
    put('app-secret', 'never-logged-app-secret');
    const source = createSsmSecretsSource({ client });
    const logger = createMemoryLogger();
    // Act
    const secrets = await source.get(config());
    logger.info('oops', { detail: `${secrets.appSecret} ${secrets.encodingAesKey}` });
    // Assess
    assert.doesNotMatch(logger.lines.join('\n'), /never-logged-app-secret|abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG/);
  });
});

describe('loadSecrets', () => {
  it('prefers secrets from the environment and never asks the source', async () => {
    // Prepare
    const fromEnv = heldSecrets({ appSecret: 'env-secret', token: 'envToken', encodingAesKey: AES_KEY_2 }, ['appSecret', 'token', 'encodingAesKey']);
    let asked = 0;
    // Act
    const secrets = await loadSecrets(config({ secrets: fromEnv }), { get: async () => (asked++, fromEnv) }, true);
    // Assess
    assert.equal(secrets, fromEnv);
    assert.equal(asked, 0);
  });

  it('refetches from SSM on a load asked to refresh, then serves the cache again', async () => {
    // Prepare
    const source = createSsmSecretsSource({ client, minRefreshIntervalMs: 0 });
    await loadSecrets(config(), source);
    put('encoding-aes-key', AES_KEY_2);
    // Act
    const beforeStale = await loadSecrets(config(), source);
    const afterStale = await loadSecrets(config(), source, true);
    const next = await loadSecrets(config(), source);
    // Assess
    assert.equal(beforeStale.encodingAesKey, AES_KEY_1);
    assert.equal(afterStale.encodingAesKey, AES_KEY_2);
    assert.equal(next, afterStale);
    assert.equal(requests.length, 2);
  });
});

describe('lambda (default secrets source)', () => {
  it('reads the secrets from SSM when the environment has none, and builds deps once for them', async () => {
    // Prepare: the SDK honours AWS_ENDPOINT_URL_SSM, so the default source reaches the local server.
    const saved = { ...process.env };
    for (const name of ['COMPONENT_APPSECRET', 'COMPONENT_TOKEN', 'COMPONENT_ENCODING_AES_KEY']) delete process.env[name];
    Object.assign(process.env, {
      COMPONENT_APPID: 'wx1234567890abcdef',
      TABLE_NAME: 't',
      PUBLIC_BASE_URL: 'https://example.com',
      SSM_PARAMETER_PATH: PATH,
      AWS_ENDPOINT_URL_SSM: endpoint,
      AWS_REGION: 'ap-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    });
    const builds: ComponentSecrets[] = [];
    const handler = lambda(
      (_config, secrets) => (builds.push(secrets), secrets),
      (secrets) => async () => secrets.token,
    );
    try {
      // Act
      const answers = [await handler({}, context), await handler({}, context)];
      // Assess
      assert.deepEqual(answers, ['tokenOne', 'tokenOne']);
      assert.equal(builds.length, 1);
      assert.equal(requests.length, 1);
    } finally {
      process.env = saved;
    }
  });

  it('rebuilds deps after a signature failure only when the refetched secrets differ', async () => {
    // Prepare
    const source = createSsmSecretsSource({ client, minRefreshIntervalMs: 0 });
    const saved = { ...process.env };
    Object.assign(process.env, {
      COMPONENT_APPID: 'wx1234567890abcdef',
      TABLE_NAME: 't',
      PUBLIC_BASE_URL: 'https://example.com',
      SSM_PARAMETER_PATH: PATH,
    });
    for (const name of ['COMPONENT_APPSECRET', 'COMPONENT_TOKEN', 'COMPONENT_ENCODING_AES_KEY']) delete process.env[name];
    let builds = 0;
    // A request whose signature fails (as a push signed with a rotated token would) reaches the HTTP edge.
    const handler = lambda(
      (_config, secrets) => (builds++, secrets),
      (secrets) => async (event: HttpEvent) => {
        if (event.rawPath === '/forged') throw new RejectedRequestError('signature.mismatch');
        return text(200, secrets.token);
      },
      { secretsSource: source, edge: httpErrorBoundary },
    );
    const get = (rawPath: string) => handler({ rawPath } as HttpEvent, context);
    try {
      // Act
      await get('/');
      await get('/forged');
      await get('/');
      put('token', 'tokenTwo');
      await get('/forged');
      const rotated = (await get('/'))?.body;
      // Assess
      assert.equal(rotated, 'tokenTwo');
      assert.equal(builds, 2);
      assert.equal(requests.length, 3);
    } finally {
      process.env = saved;
    }
  });
});
