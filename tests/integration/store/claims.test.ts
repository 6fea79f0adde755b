import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { acquireLease, LEASE_RETENTION_S, LeaseHeldError, releaseLease, renewLease, toLease } from '../../../lib/store/claims.ts';
import { claimCode, getCodeState, saveCodeResult } from '../../../lib/store/codes.ts';
import { claimMessage } from '../../../lib/store/deliveries.ts';
import { leaseKey, type StoreDeps } from '../../../lib/store/keys.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { faultyDocumentClient, type FaultyDocumentClient } from '../../helpers/faults.ts';

const NOW = Date.parse('2030-01-01T00:00:00Z');
let table: TestTable;
let n = 0;
const nextWhat = () => `test-lease#${(n += 1)}`;
/** Deps whose clock reads `at` (epoch ms), so each test moves time explicitly. */
const depsAt = (at: number): StoreDeps => ({ doc: table.doc, tableName: table.tableName, clock: () => at });
/** The lease as stored (consistent read). */
const getLease = async (deps: StoreDeps, what: string) =>
  toLease(what, (await deps.doc.send(new GetCommand({ TableName: deps.tableName, Key: leaseKey(what), ConsistentRead: true }))).Item);

before(async () => {
  table = await createTestTable();
});
after(async () => table.close());

describe('lease.acquireLease', () => {
  it('takes a free lease and stores owner, leaseUntil and a TTL an hour after the lease ends', async () => {
    // Prepare
    const what = nextWhat();
    // Act
    const lease = await acquireLease(depsAt(NOW), what, 'me', 20_000);
    // Assess
    assert.deepEqual(lease, { what, owner: 'me', leaseUntil: NOW + 20_000 });
    const { Item } = await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: `LEASE#${what}`, sk: 'LEASE' } }));
    assert.equal(Item?.owner, 'me');
    assert.equal(Item?.expiresAt, (NOW + 20_000) / 1000 + LEASE_RETENTION_S);
  });

  it("throws LeaseHeldError with the holder's leaseUntil while another owner holds it", async () => {
    // Prepare
    const what = nextWhat();
    await acquireLease(depsAt(NOW), what, 'holder', 20_000);
    // Act
    const attempt = acquireLease(depsAt(NOW + 19_999), what, 'other', 20_000);
    // Assess
    await assert.rejects(attempt, (e: unknown) => e instanceof LeaseHeldError && e.leaseUntil === NOW + 20_000);
    assert.equal((await getLease(depsAt(NOW), what))?.owner, 'holder');
  });

  it("lets the next caller take over once a crashed holder's lease has run out", async () => {
    // Prepare
    const what = nextWhat();
    await acquireLease(depsAt(NOW), what, 'crashed', 20_000);
    // Act
    const lease = await acquireLease(depsAt(NOW + 20_001), what, 'next', 20_000);
    // Assess
    assert.equal(lease.owner, 'next');
    assert.equal((await getLease(depsAt(NOW), what))?.owner, 'next');
  });
});

describe('lease.releaseLease', () => {
  it('frees the lease at once for the next caller', async () => {
    // Prepare
    const what = nextWhat();
    await acquireLease(depsAt(NOW), what, 'me', 20_000);
    // Act
    const released = await releaseLease(depsAt(NOW + 5), what, 'me');
    // Assess
    assert.equal(released, true);
    assert.equal((await acquireLease(depsAt(NOW + 5), what, 'next', 20_000)).owner, 'next');
  });

  it('does not release a lease that passed to another owner', async () => {
    // Prepare
    const what = nextWhat();
    await acquireLease(depsAt(NOW), what, 'slow', 1_000);
    await acquireLease(depsAt(NOW + 2_000), what, 'next', 20_000);
    // Act
    const released = await releaseLease(depsAt(NOW + 3_000), what, 'slow');
    // Assess
    assert.equal(released, false);
    const lease = await getLease(depsAt(NOW), what);
    assert.equal(lease?.owner, 'next');
    assert.equal(lease?.leaseUntil, NOW + 22_000);
  });

  it('records the failure for waiting callers and clears it on the next acquisition', async () => {
    // Prepare
    const what = nextWhat();
    await acquireLease(depsAt(NOW), what, 'me', 20_000);
    const failure = { name: 'TicketInvalidError', message: 'ticket invalid', errcode: 61006, failedAt: NOW + 10 };
    // Act
    await releaseLease(depsAt(NOW + 10), what, 'me', failure);
    const afterFailure = await getLease(depsAt(NOW), what);
    await acquireLease(depsAt(NOW + 20), what, 'next', 20_000);
    // Assess
    assert.deepEqual(afterFailure?.failure, failure);
    assert.equal((await getLease(depsAt(NOW), what))?.failure, undefined);
  });
});

describe('lease.renewLease', () => {
  it('extends the lease of its holder so nobody can take it over meanwhile', async () => {
    // Prepare
    const what = nextWhat();
    await acquireLease(depsAt(NOW), what, 'holder', 400);
    // Act
    const renewed = await renewLease(depsAt(NOW + 300), what, 'holder', 400);
    const takeover = acquireLease(depsAt(NOW + 600), what, 'other', 400);
    // Assess
    assert.equal(renewed, true);
    await assert.rejects(takeover, (e: unknown) => e instanceof LeaseHeldError && e.leaseUntil === NOW + 700);
  });

  it('refuses to renew a lease that passed to another owner, leaving theirs as it is', async () => {
    // Prepare
    const what = nextWhat();
    await acquireLease(depsAt(NOW), what, 'holder', 400);
    await acquireLease(depsAt(NOW + 500), what, 'other', 400);
    // Act
    const renewed = await renewLease(depsAt(NOW + 600), what, 'holder', 400);
    // Assess
    assert.equal(renewed, false);
    assert.deepEqual(await getLease(depsAt(NOW + 600), what), { what, owner: 'other', leaseUntil: NOW + 900 });
  });
});

describe('claims: a claimant whose write landed but whose answer was lost', () => {
  let faulty: FaultyDocumentClient;
  /** Deps on a client that applies the next write, then loses its answer to a reset socket: the SDK sends it again. */
  const losingNextAnswer = (at: number): StoreDeps => {
    faulty.clearFaults();
    faulty.resetCalls();
    faulty.inject({ where: 'answer-lost' });
    return { doc: faulty.doc, tableName: table.tableName, clock: () => at };
  };
  /** The SDK sent the write twice and the second met the condition the first had just satisfied. */
  const retriedIntoItsOwnCondition = () => {
    const [write, ...others] = faulty.writes();
    assert.equal(others.length, 0);
    assert.equal(write?.error, 'ConditionalCheckFailedException');
  };

  before(() => {
    faulty = faultyDocumentClient(table.endpoint);
  });
  after(() => faulty.close());

  it('holds the lease it took instead of reporting it held by someone else', async () => {
    // Prepare
    const what = nextWhat();
    const deps = losingNextAnswer(NOW);
    // Act
    const lease = await acquireLease(deps, what, 'me', 20_000);
    // Assess
    retriedIntoItsOwnCondition();
    assert.deepEqual(lease, { what, owner: 'me', leaseUntil: NOW + 20_000 });
    await assert.rejects(acquireLease(depsAt(NOW + 1), what, 'other', 20_000), LeaseHeldError);
  });

  it('holds the code it claimed instead of waiting on its own claim', async () => {
    // Prepare
    const code = `queryauthcode@@@lost-answer-${Math.random().toString(36).slice(2)}`;
    const deps = losingNextAnswer(NOW);
    // Act
    const claimed = await claimCode(deps, code, 'me', 30_000);
    // Assess
    retriedIntoItsOwnCondition();
    assert.equal(claimed, true);
    assert.equal(await claimCode(depsAt(NOW + 1), code, 'other', 30_000), false);
    assert.deepEqual(await getCodeState(depsAt(NOW), code), { state: 'claimed', owner: 'me', claimUntil: NOW + 30_000 });
  });

  it('stores the code result it wrote instead of reporting its claim lost', async () => {
    // Prepare
    const code = `queryauthcode@@@lost-result-${Math.random().toString(36).slice(2)}`;
    await claimCode(depsAt(NOW), code, 'me', 30_000);
    const authorization = { authorizerAppid: 'wxc736b9251b3c6c41', authorizerRefreshToken: 'refreshtoken@@@lost', funcInfo: [1] };
    // Act
    await saveCodeResult(losingNextAnswer(NOW), code, 'me', authorization, NOW / 1000);
    // Assess
    retriedIntoItsOwnCondition();
    assert.equal((await getCodeState(depsAt(NOW), code))?.state, 'exchanged');
  });

  it('handles the delivery it claimed instead of finding it in flight', async () => {
    // Prepare
    const marker = { id: `lost-answer-${(n += 1)}`, authorizerAppid: 'wxc736b9251b3c6c41', msgType: 'text', owner: 'me' };
    const deps = losingNextAnswer(NOW);
    // Act
    const claim = await claimMessage(deps, marker);
    // Assess
    retriedIntoItsOwnCondition();
    assert.equal(claim, 'claimed');
    assert.equal(await claimMessage(depsAt(NOW + 1), { ...marker, owner: 'retry' }), 'in_flight');
  });
});
