import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../lib/runtime/config.ts';
import { ConfigError } from '../../../lib/kernel/errors.ts';

const valid = {
  COMPONENT_APPID: 'wx1234567890abcdef',
  COMPONENT_APPSECRET: 'secret-value-1234',
  COMPONENT_TOKEN: 'spamtest',
  COMPONENT_ENCODING_AES_KEY: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
  TABLE_NAME: 'wechat-component-dev',
  PUBLIC_BASE_URL: 'https://example.com/',
};

describe('loadConfig', () => {
  it('returns every value with defaults applied', () => {
    // Act
    const config = loadConfig(valid);
    // Assess
    assert.equal(config.componentAppId, 'wx1234567890abcdef');
    assert.equal(config.wechatApiBaseUrl, 'https://api.weixin.qq.com');
    assert.equal(config.publicBaseUrl, 'https://example.com');
    assert.equal(config.pushMaxSkewS, 600);
    assert.equal(config.refreshConcurrency, 16);
    assert.equal(config.dynamodbEndpoint, undefined);
    assert.deepEqual(config.secrets, { appSecret: 'secret-value-1234', token: 'spamtest', encodingAesKey: valid.COMPONENT_ENCODING_AES_KEY });
  });

  it('names every problem in one error, without echoing secret values', () => {
    // Prepare
    const env = { COMPONENT_APPID: 'nope', COMPONENT_ENCODING_AES_KEY: 'short-key-value', PUSH_MAX_SKEW_S: '-5', WECHAT_API_BASE_URL: 'ftp://x' };
    // Act
    const error = (() => {
      try {
        loadConfig(env);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    // Assess
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems, [
      'COMPONENT_APPID must look like wx followed by 16 hex digits',
      'TABLE_NAME is missing',
      'WECHAT_API_BASE_URL must be an http(s) URL',
      'PUBLIC_BASE_URL is missing',
      'PUSH_MAX_SKEW_S must be an integer from 0 to 86400',
      'COMPONENT_APPSECRET is missing',
      'COMPONENT_TOKEN is missing',
      'COMPONENT_ENCODING_AES_KEY must be 43 letters or digits',
    ]);
    assert.doesNotMatch(error.message, /short-key-value/);
  });

  it('takes the secrets from SSM when none is in the environment and a parameter path is set', () => {
    // Prepare
    const { COMPONENT_APPSECRET: _s, COMPONENT_TOKEN: _t, COMPONENT_ENCODING_AES_KEY: _k, ...rest } = valid;
    // Act
    const config = loadConfig({ ...rest, SSM_PARAMETER_PATH: '/wechat-component/prod' });
    // Assess
    assert.equal(config.secrets, undefined);
    assert.equal(config.ssmParameterPath, '/wechat-component/prod');
  });

  it('treats PUSH_MAX_SKEW_S=0 as the freshness check turned off', () => {
    assert.equal(loadConfig({ ...valid, PUSH_MAX_SKEW_S: '0' }).pushMaxSkewS, 0);
  });

  it('turns the freshness check off by default only under sls invoke local (IS_LOCAL=true)', () => {
    assert.equal(loadConfig({ ...valid, IS_LOCAL: 'true' }).pushMaxSkewS, 0);
    assert.equal(loadConfig({ ...valid, IS_LOCAL: 'true', PUSH_MAX_SKEW_S: '' }).pushMaxSkewS, 0);
    assert.equal(loadConfig({ ...valid, IS_LOCAL: 'true', PUSH_MAX_SKEW_S: '120' }).pushMaxSkewS, 120);
    assert.equal(loadConfig({ ...valid, IS_LOCAL: 'false' }).pushMaxSkewS, 600);
    assert.equal(loadConfig({ ...valid, PUSH_MAX_SKEW_S: '' }).pushMaxSkewS, 600);
  });

  it('holds only the secrets SECRETS names, validating just those', () => {
    // Prepare
    const { COMPONENT_APPSECRET: _s, ...noAppSecret } = valid;
    // Act
    const push = loadConfig({ ...noAppSecret, SECRETS: 'token,encoding-aes-key' });
    const pages = loadConfig({ ...valid, SECRETS: 'app-secret,link-signing-key', LINK_SIGNING_KEY: 'x'.repeat(43) });
    // Assess
    assert.deepEqual(push.secretNames, ['token', 'encodingAesKey']);
    assert.deepEqual(Object.keys(push.secrets ?? {}), ['token', 'encodingAesKey']);
    assert.throws(() => push.secrets?.appSecret, /does not hold COMPONENT_APPSECRET/);
    assert.equal(pages.secrets?.linkSigningKey, 'x'.repeat(43));
    assert.throws(() => pages.secrets?.encodingAesKey, /does not hold COMPONENT_ENCODING_AES_KEY/);
  });

  it('holds the link key besides the component secrets when SECRETS is unset and the environment has one', () => {
    assert.deepEqual(loadConfig(valid).secretNames, ['appSecret', 'token', 'encodingAesKey']);
    assert.deepEqual(loadConfig({ ...valid, LINK_SIGNING_KEY: 'x'.repeat(43) }).secretNames, [
      'appSecret',
      'token',
      'encodingAesKey',
      'linkSigningKey',
    ]);
  });

  it('names an unknown SECRETS word, a missing held secret and a short link key', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (e) {
        return (e as ConfigError).problems;
      }
      return [];
    };
    assert.deepEqual(problems({ ...valid, SECRETS: 'token,app-secrets' }), [
      'SECRETS names unknown secret(s): app-secrets (known: app-secret, token, encoding-aes-key, link-signing-key)',
    ]);
    assert.deepEqual(problems({ ...valid, SECRETS: 'app-secret,link-signing-key' }), ['LINK_SIGNING_KEY is missing']);
    assert.deepEqual(problems({ ...valid, SECRETS: 'link-signing-key', LINK_SIGNING_KEY: 'short' }), [
      'LINK_SIGNING_KEY must be 32-256 base64 characters (32 random bytes or more)',
    ]);
  });

  it('reads AWS_REGION and whether AWS credentials are set, and names a malformed region', () => {
    // Act
    const bare = loadConfig(valid);
    const aws = loadConfig({ ...valid, AWS_REGION: 'ap-east-1', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE' });
    const bad = (() => {
      try {
        return loadConfig({ ...valid, AWS_REGION: 'Asia Pacific' });
      } catch (e) {
        return e;
      }
    })();
    // Assess
    assert.deepEqual([bare.awsRegion, bare.awsCredentialsInEnv], [undefined, false]);
    assert.deepEqual([aws.awsRegion, aws.awsCredentialsInEnv], ['ap-east-1', true]);
    assert.ok(bad instanceof ConfigError);
    assert.deepEqual(bad.problems, ['AWS_REGION must look like ap-east-1']);
  });

  it('names a LOG_LEVEL that is not one of the four levels', () => {
    assert.throws(
      () => loadConfig({ ...valid, LOG_LEVEL: 'verbose' }),
      (e: unknown) => e instanceof ConfigError && /LOG_LEVEL/.test(e.message),
    );
    assert.equal(loadConfig({ ...valid, LOG_LEVEL: 'WARN' }).logLevel, 'warn');
  });
});
