import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { simulatorEnv } from '../../../infra/local/credentials.ts';
import { authorizationLink, LINK_TTL_DEFAULT_S } from '../../../lib/authorization/link-action.ts';
import { LinkRefusedError, newLinkId, signLink, signState, verifyLink, verifyState, type LinkClaims } from '../../../lib/authorization/links.ts';
import { BadRequestError } from '../../../lib/kernel/errors.ts';
import { createMemoryLogger } from '../../../lib/kernel/logger.ts';
import { loadConfig } from '../../../lib/runtime/config.ts';
import { createWeChatDeps } from '../../../lib/runtime/wechat-deps.ts';

const KEY = 'unitTestLinkKey-0123456789abcdefghijklmnopqrstuv';
const NOW = 1_800_000_000;
const claims = (over: Partial<LinkClaims> = {}): LinkClaims => ({ linkId: newLinkId(), authType: 3, expiresAt: NOW + 600, ...over });
const refused = (reason: LinkRefusedError['reason']) => (e: unknown) => e instanceof LinkRefusedError && e.reason === reason;

/** The token with its payload replaced by `edit(payload)`, keeping the original MAC. */
const tamper = (token: string, edit: (p: Record<string, unknown>) => Record<string, unknown>): string => {
  const [payload, mac] = token.split('.') as [string, string];
  const changed = edit(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>);
  return `${Buffer.from(JSON.stringify(changed)).toString('base64url')}.${mac}`;
};

describe('links.verifyLink', () => {
  it('returns the claims of a link it signed, tenant and biz_appid included', () => {
    const link = claims({ tenant: 'acme', authType: 2, bizAppid: 'wxc736b9251b3c6c41' });
    assert.deepEqual(verifyLink(KEY, signLink(KEY, link), NOW), link);
    const bare = claims();
    assert.deepEqual(verifyLink(KEY, signLink(KEY, bare), NOW), bare);
  });

  it('refuses a missing, malformed, re-signed, tampered or expired link, each for its reason', () => {
    const token = signLink(KEY, claims({ tenant: 'acme' }));
    assert.throws(() => verifyLink(KEY, undefined, NOW), refused('missing'));
    assert.throws(() => verifyLink(KEY, '', NOW), refused('missing'));
    for (const bad of ['abc', 'a.b.c', `${token}.x`, 'a b.c', `${'a'.repeat(1100)}.b`, `${token.split('.')[0]}.${'A'.repeat(10)}`]) {
      assert.throws(
        () => verifyLink(KEY, bad, NOW),
        (e: unknown) => refused('malformed')(e) || refused('signature')(e),
        bad,
      );
    }
    assert.throws(() => verifyLink('another-key-0123456789abcdefghijklmnopqrstu', token, NOW), refused('signature'));
    assert.throws(
      () =>
        verifyLink(
          KEY,
          tamper(token, (p) => ({ ...p, t: 'globex' })),
          NOW,
        ),
      refused('signature'),
    );
    assert.throws(
      () =>
        verifyLink(
          KEY,
          tamper(token, (p) => ({ ...p, e: NOW + 99_999 })),
          NOW,
        ),
      refused('signature'),
    );
    assert.throws(() => verifyLink(KEY, signLink(KEY, claims({ expiresAt: NOW })), NOW), refused('expired'));
  });

  it('never takes a landing state for a link, nor a link for a state', () => {
    const state = signState(KEY, { linkId: newLinkId(), tenant: 'acme', expiresAt: NOW + 600 });
    assert.throws(() => verifyLink(KEY, state, NOW), refused('signature'));
    assert.throws(() => verifyState(KEY, signLink(KEY, claims()), NOW), refused('signature'));
    assert.deepEqual(verifyState(KEY, state, NOW).tenant, 'acme');
  });
});

describe('authorizationLink action', () => {
  const deps = () => {
    const config = loadConfig({ ...simulatorEnv(), TABLE_NAME: 'unused', PUBLIC_BASE_URL: 'https://platform.example.test', LINK_SIGNING_KEY: KEY });
    const logger = createMemoryLogger();
    return { deps: createWeChatDeps(config, config.secrets!, { logger, clock: () => NOW * 1000 }), logger };
  };

  it('answers a start-page URL whose link verifies with the requested claims, expiring after ttlSeconds', async () => {
    // Prepare
    const { deps: d, logger } = deps();
    // Act
    const answer = (await authorizationLink(d, { tenant: 'acme', authType: 1, bizAppid: 'wxc736b9251b3c6c41', ttlSeconds: 600 })) as {
      url: string;
      expiresAt: number;
    };
    const defaults = (await authorizationLink(d, {})) as { url: string; expiresAt: number };
    // Assess
    const url = new URL(answer.url);
    assert.equal(`${url.origin}${url.pathname}`, 'https://platform.example.test/wechat/component/authorize');
    const link = verifyLink(KEY, url.searchParams.get('link') ?? undefined, NOW);
    assert.deepEqual({ ...link, linkId: 'x' }, { linkId: 'x', tenant: 'acme', authType: 1, bizAppid: 'wxc736b9251b3c6c41', expiresAt: NOW + 600 });
    assert.equal(answer.expiresAt, NOW + 600);
    assert.equal(defaults.expiresAt, NOW + LINK_TTL_DEFAULT_S);
    assert.equal(verifyLink(KEY, new URL(defaults.url).searchParams.get('link') ?? undefined, NOW).authType, 3);
    assert.notEqual(new URL(defaults.url).searchParams.get('link'), url.searchParams.get('link'));
    const issued = logger.records().find((r) => r.event === 'authorization.link_issued');
    assert.equal(issued?.tenant, 'acme');
    assert.ok(!logger.lines.some((l) => l.includes(url.searchParams.get('link')!)), 'the link itself is never logged');
  });

  it('refuses malformed input with a BadRequestError naming the field', async () => {
    const { deps: d } = deps();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ tenant: '' }, /"tenant"/],
      [{ tenant: 'a b' }, /"tenant"/],
      [{ tenant: 'x'.repeat(65) }, /"tenant"/],
      [{ tenant: 7 }, /"tenant"/],
      [{ authType: 4 }, /"authType"/],
      [{ authType: '3' }, /"authType"/],
      [{ bizAppid: 'gh_3c884a361561' }, /"bizAppid"/],
      [{ ttlSeconds: 59 }, /"ttlSeconds"/],
      [{ ttlSeconds: 1.5 }, /"ttlSeconds"/],
      [{ ttlSeconds: 31 * 86_400 }, /"ttlSeconds"/],
      [{ tenantId: 'acme' }, /unknown field\(s\): tenantId/],
    ];
    for (const [input, message] of cases) {
      await assert.rejects(
        authorizationLink(d, input),
        (e: unknown) => e instanceof BadRequestError && message.test(e.message),
        JSON.stringify(input),
      );
    }
  });
});
