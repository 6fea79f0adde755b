import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import {
  claimCode,
  CODE_TTL_S,
  CodeClaimLostError,
  getCodeState,
  markCodeApplied,
  releaseCode,
  saveCodeRejection,
  saveCodeResult,
} from '../../../lib/store/codes.ts';
import { codeKey, type StoreDeps } from '../../../lib/store/keys.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';

const NOW = Date.parse('2026-11-23T20:00:00Z');
const NOW_S = NOW / 1000;
let table: TestTable;
let deps: StoreDeps;
let n = 0;
const newCode = () => `queryauthcode@@@test-${(n += 1)}-${Math.random().toString(36).slice(2)}`;
const AUTH = {
  authorizerAppid: 'wxc736b9251b3c6c41',
  authorizerAccessToken: 'authorizer-access-token-1',
  expiresIn: 7200,
  authorizerRefreshToken: 'refreshtoken@@@r1',
  funcInfo: [1, 15, 24],
};

before(async () => {
  table = await createTestTable();
  deps = { doc: table.doc, tableName: table.tableName, clock: () => NOW };
});
after(async () => table.close());

describe('codes.claimCode', () => {
  it('lets exactly one of several concurrent claimants hold the code', async () => {
    // Prepare
    const code = newCode();
    // Act
    const results = await Promise.all(['a', 'b', 'c', 'd'].map((owner) => claimCode(deps, code, owner, 30_000)));
    // Assess
    assert.equal(results.filter(Boolean).length, 1);
    const state = await getCodeState(deps, code);
    assert.equal(state?.state, 'claimed');
  });

  it('stores the item under sha256 of the code, never the code itself, with a 1 h expiresAt', async () => {
    // Prepare
    const code = newCode();
    // Act
    await claimCode(deps, code, 'a', 30_000);
    // Assess
    const { Item } = await table.doc.send(new GetCommand({ TableName: table.tableName, Key: codeKey(code) }));
    assert.ok(Item);
    assert.match(Item.pk, /^CODE#[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(Item).includes(code));
    assert.equal(Item.expiresAt, NOW_S + CODE_TTL_S);
  });

  it('lets another claimant take over a claim that has expired', async () => {
    // Prepare
    const code = newCode();
    await claimCode(deps, code, 'crashed', 30_000);
    const later = { ...deps, clock: () => NOW + 31_000 };
    // Act
    const early = await claimCode({ ...deps, clock: () => NOW + 29_000 }, code, 'early', 30_000);
    const taken = await claimCode(later, code, 'late', 30_000);
    // Assess
    assert.equal(early, false);
    assert.equal(taken, true);
    assert.deepEqual(await getCodeState(later, code), { state: 'claimed', owner: 'late', claimUntil: NOW + 61_000 });
  });

  it('never claims a code whose result is stored, even after the claim time', async () => {
    // Prepare
    const code = newCode();
    await claimCode(deps, code, 'a', 30_000);
    await saveCodeResult(deps, code, 'a', AUTH, NOW_S - 2);
    // Act
    const claimed = await claimCode({ ...deps, clock: () => NOW + 60_000 }, code, 'b', 30_000);
    // Assess
    assert.equal(claimed, false);
  });
});

describe('codes.saveCodeResult', () => {
  it('replaces the claim with the exchange result, keeping when the exchange was made apart from when it was cached', async () => {
    // Prepare
    const code = newCode();
    await claimCode(deps, code, 'a', 30_000);
    // Act
    await saveCodeResult(deps, code, 'a', AUTH, NOW_S - 2);
    // Assess
    assert.deepEqual(await getCodeState(deps, code), { state: 'exchanged', authorization: AUTH, exchangedAt: NOW_S - 2, cachedAt: NOW_S });
  });

  it('throws CodeClaimLostError when the claim belongs to someone else now', async () => {
    // Prepare
    const code = newCode();
    await claimCode(deps, code, 'a', 30_000);
    await claimCode({ ...deps, clock: () => NOW + 31_000 }, code, 'b', 30_000);
    // Act / Assess
    await assert.rejects(saveCodeResult(deps, code, 'a', AUTH, NOW_S - 2), CodeClaimLostError);
    assert.equal((await getCodeState(deps, code))?.state, 'claimed');
  });
});

describe('codes.getCodeState', () => {
  it('returns undefined for an unknown code and for an item past expiresAt', async () => {
    // Prepare
    const code = newCode();
    await claimCode(deps, code, 'a', 30_000);
    await saveCodeResult(deps, code, 'a', AUTH, NOW_S - 2);
    // Act
    const unknown = await getCodeState(deps, newCode());
    const expired = await getCodeState({ ...deps, clock: () => NOW + CODE_TTL_S * 1000 }, code);
    // Assess
    assert.equal(unknown, undefined);
    assert.equal(expired, undefined);
  });
});

describe('codes.saveCodeRejection', () => {
  it('records WeChat refusing the code so nobody claims it again', async () => {
    // Prepare
    const code = newCode();
    await claimCode(deps, code, 'a', 30_000);
    // Act
    await saveCodeRejection(deps, code, 'a', { errcode: 61009, errmsg: 'code is invalid' });
    // Assess
    assert.deepEqual(await getCodeState(deps, code), { state: 'rejected', errcode: 61009, errmsg: 'code is invalid' });
    assert.equal(await claimCode({ ...deps, clock: () => NOW + 60_000 }, code, 'b', 30_000), false);
  });
});

describe('codes.releaseCode', () => {
  it("frees our own claim and leaves someone else's alone", async () => {
    // Prepare
    const mine = newCode();
    const theirs = newCode();
    await claimCode(deps, mine, 'me', 30_000);
    await claimCode(deps, theirs, 'them', 30_000);
    // Act
    await releaseCode(deps, mine, 'me');
    await releaseCode(deps, theirs, 'me');
    // Assess
    assert.equal(await getCodeState(deps, mine), undefined);
    assert.equal((await getCodeState(deps, theirs))?.state, 'claimed');
  });
});

describe('codes.markCodeApplied', () => {
  it('sets appliedAt once, and only on an exchanged code', async () => {
    // Prepare
    const code = newCode();
    const claimed = newCode();
    await claimCode(deps, code, 'a', 30_000);
    await claimCode(deps, claimed, 'a', 30_000);
    await saveCodeResult(deps, code, 'a', AUTH, NOW_S - 2);
    // Act
    await markCodeApplied(deps, code);
    await markCodeApplied({ ...deps, clock: () => NOW + 5_000 }, code);
    await markCodeApplied(deps, claimed);
    // Assess
    const state = await getCodeState(deps, code);
    assert.equal(state?.state === 'exchanged' ? state.appliedAt : undefined, NOW_S);
    assert.equal((await getCodeState(deps, claimed))?.state, 'claimed');
  });
});
