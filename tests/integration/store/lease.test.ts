import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { acquireLease, getLease, LEASE_RETENTION_S, LeaseHeldError, releaseLease, renewLease } from '../../../lib/store/lease.ts';
import type { StoreDeps } from '../../../lib/store/types.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';

const NOW = Date.parse('2030-01-01T00:00:00Z');
let table: TestTable;
let n = 0;
const nextWhat = () => `test-lease#${(n += 1)}`;
/** Deps whose clock reads `at` (epoch ms), so each test moves time explicitly. */
const depsAt = (at: number): StoreDeps => ({ doc: table.doc, tableName: table.tableName, clock: () => at });

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
    assert.equal(Item?.ttl, (NOW + 20_000) / 1000 + LEASE_RETENTION_S);
    assert.equal(Item?.expiresAt, undefined);
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
