// JS-SDK ticket items against DynamoDB Local. Times are in 2030 so the local TTL sweeper never deletes an item a test reads back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { saveAuthorization } from '../../../lib/store/grants.ts';
import { markUnauthorized } from '../../../lib/store/authorizers.ts';
import { getJsapiTicketState, JSAPI_TICKET_RETENTION_S, putJsapiTicket } from '../../../lib/store/jsapi-tickets.ts';
import { acquireLease } from '../../../lib/store/claims.ts';
import { StaleWriteError } from '../../../lib/store/tokens.ts';
import type { StoreDeps } from '../../../lib/store/keys.ts';
import { createTestTable, type TestTable } from '../../helpers/dynamo.ts';

const NOW_S = Date.parse('2030-01-01T00:00:00Z') / 1000;
let table: TestTable;
let n = 0;
const nextAppId = () => `wx${(0xb0ce55000000000n + BigInt((n += 1))).toString(16).padStart(16, '0')}`;
const depsAt = (atS: number): StoreDeps => ({ doc: table.doc, tableName: table.tableName, clock: () => atS * 1000 });

before(async () => {
  table = await createTestTable();
});
after(async () => table.close());

describe('jsapiTickets.putJsapiTicket', () => {
  it('stores the ticket beside the profile with expiresAt, obtainedAt and a ttl a day later', async () => {
    // Prepare
    const appid = nextAppId();
    // Act
    await putJsapiTicket(depsAt(NOW_S), appid, { ticket: 'jsapi-ticket-1', expiresAt: NOW_S + 7200 });
    // Assess
    const { Item } = await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: `AUTHORIZER#${appid}`, sk: 'JSAPI_TICKET' } }));
    assert.deepEqual(Item, {
      pk: `AUTHORIZER#${appid}`,
      sk: 'JSAPI_TICKET',
      ticket: 'jsapi-ticket-1',
      expiresAt: NOW_S + 7200,
      obtainedAt: NOW_S,
      ttl: NOW_S + 7200 + JSAPI_TICKET_RETENTION_S,
    });
  });

  it('never replaces a ticket with one expiring earlier (StaleWriteError), and replaces it with a later one', async () => {
    // Prepare
    const appid = nextAppId();
    await putJsapiTicket(depsAt(NOW_S), appid, { ticket: 'newer', expiresAt: NOW_S + 7200 });
    // Act
    const late = putJsapiTicket(depsAt(NOW_S), appid, { ticket: 'older', expiresAt: NOW_S + 7000 });
    await assert.rejects(late, StaleWriteError);
    await putJsapiTicket(depsAt(NOW_S + 10), appid, { ticket: 'newest', expiresAt: NOW_S + 7210 });
    // Assess
    assert.equal((await getJsapiTicketState(depsAt(NOW_S + 10), appid)).ticket?.ticket, 'newest');
  });
});

describe('jsapiTickets.getJsapiTicketState', () => {
  it('reads profile, live ticket and lease in one request; a ticket past expiresAt is absent though still stored', async () => {
    // Prepare
    const appid = nextAppId();
    await saveAuthorization(depsAt(NOW_S), appid, { refreshToken: 'refreshtoken@@@r1', funcInfo: [1], authorizedAt: NOW_S - 60 });
    await putJsapiTicket(depsAt(NOW_S), appid, { ticket: 'jsapi-ticket-2', expiresAt: NOW_S + 7200 });
    await acquireLease(depsAt(NOW_S), `jsapi-ticket#${appid}`, 'holder-1', 10_000);
    let requests = 0;
    table.doc.middlewareStack.add(
      (next) => async (args) => {
        requests += 1;
        return next(args);
      },
      { step: 'initialize', name: 'countRequests' },
    );
    // Act
    const live = await getJsapiTicketState(depsAt(NOW_S + 60), appid, { leaseName: `jsapi-ticket#${appid}` });
    const expired = await getJsapiTicketState(depsAt(NOW_S + 7200), appid);
    table.doc.middlewareStack.remove('countRequests');
    // Assess
    assert.equal(live.profile?.status, 'authorized');
    assert.deepEqual(live.ticket, { ticket: 'jsapi-ticket-2', expiresAt: NOW_S + 7200, obtainedAt: NOW_S });
    assert.equal(live.lease?.owner, 'holder-1');
    assert.equal(expired.ticket, undefined);
    assert.equal(requests, 2);
  });

  it('shows a revoked account as unauthorized next to its leftover ticket', async () => {
    // Prepare
    const appid = nextAppId();
    await saveAuthorization(depsAt(NOW_S), appid, { refreshToken: 'refreshtoken@@@r2', funcInfo: [1], authorizedAt: NOW_S - 60 });
    await putJsapiTicket(depsAt(NOW_S), appid, { ticket: 'jsapi-ticket-3', expiresAt: NOW_S + 7200 });
    // Act
    await markUnauthorized(depsAt(NOW_S + 1), appid, NOW_S + 1);
    const state = await getJsapiTicketState(depsAt(NOW_S + 2), appid);
    // Assess
    assert.equal(state.profile?.status, 'unauthorized');
    assert.equal(state.ticket?.ticket, 'jsapi-ticket-3');
  });
});
