// Hostile input on both push URLs, through the REAL handlers (createHandler + the production error boundary),
// real crypto and DynamoDB Local. Seeded and reproducible: the seed is printed; replay with FUZZ_SEED=<seed>.
// `npm test` runs a few thousand cases; FUZZ_LONG=1 runs 100,000 (FUZZ_CASES=<n> per URL overrides both).
// Guarantees checked on every case:
//   - never a thrown error, never a 5xx: every answer is 200 or the one uniform 400;
//   - a refused push writes nothing (every DynamoDB command of the handler is recorded by middleware);
//   - a push our mutation left genuine is handled: 200 and its item (ticket, EVENT, message marker) stored,
//     or the release-check reply it asked for;
//   - nothing reaches Object.prototype.
// A case that breaks one of these is written to tests/reliability/corpus/ and replayed by every later run.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createHandler as createTicketHandler } from '../../functions/ticket/handler.ts';
import { createHandler as createMessageHandler } from '../../functions/message/handler.ts';
import { SIMULATOR_COMPONENT } from '../../infra/local/credentials.ts';
import type { Deps } from '../../lib/runtime/deps.ts';
import { REJECTED_BODY, REJECTED_STATUS, type HttpResult } from '../../lib/runtime/http.ts';
import { createLogger } from '../../lib/kernel/logger.ts';
import { createMessageHandlerRegistry } from '../../lib/intake/message-handlers.ts';
import { saveAuthorization } from '../../lib/store/grants.ts';
import { markUnauthorized } from '../../lib/store/authorizers.ts';
import { componentKey } from '../../lib/store/keys.ts';
import { decodeAesKey } from '../../lib/wechat/crypto.ts';
import { createTestTable, type TestTable } from '../helpers/dynamo.ts';
import { faultyDocumentClient, type FaultyDocumentClient } from '../helpers/faults.ts';
import { createRng, fuzzCases, fuzzSeed, type Rng } from '../helpers/fuzz.ts';
import { openReply } from '../helpers/wechat-message.ts';
import { buildCase, MUTATORS, type Expect, type FuzzCase, type FuzzContext, type Url, type Verdict } from './push-cases.ts';
import { httpFunction } from '../helpers/lambda.ts';
import { worldDeps } from '../helpers/world.ts';

const NOW = Date.parse('2026-11-23T20:00:00Z');
const C = SIMULATOR_COMPONENT;
const SEED = fuzzSeed();
const CASES_PER_URL = fuzzCases({ normal: 1500, long: 50_000 });
const CORPUS = join(import.meta.dirname, 'corpus');
const CTX: FuzzContext = {
  keys: { appId: C.appId, token: C.token, aesKey: decodeAesKey(C.encodingAesKey) },
  nowS: NOW / 1000,
  ours: 'wx1111222233334444',
  gone: 'wx5555666677778888',
};

let table: TestTable;
let recorded: FaultyDocumentClient;
let deps: Deps;
const errorLines: string[] = [];

type Invoke = (event: APIGatewayProxyEventV2) => Promise<HttpResult>;
const handlers = (): Record<Url, Invoke> => {
  const ticket = httpFunction(createTicketHandler(deps), deps.logger);
  // The registry's fallback stands in for the product's own message handling: it answers nothing.
  const registry = createMessageHandlerRegistry(async () => undefined);
  const message = httpFunction(createMessageHandler(deps, registry), deps.logger);
  return { ticket, message };
};

const getItem = async (key: { pk: string; sk: string }) =>
  (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: key, ConsistentRead: true }))).Item;

const bodyOf = (r: HttpResult) => String(r.body ?? '');

/** Whether a genuine push left what it must; a problem description otherwise. */
const checkHandled = async (expect: Expect, response: HttpResult, wrote: number): Promise<string | undefined> => {
  switch (expect.kind) {
    case 'ticket': {
      if (bodyOf(response) !== 'success') return `body ${JSON.stringify(bodyOf(response).slice(0, 40))}`;
      const item = await getItem(componentKey(C.appId, 'TICKET'));
      return item?.ticket === expect.ticket ? undefined : 'genuine ticket not stored';
    }
    case 'item': {
      if (bodyOf(response) !== expect.body) return `body ${JSON.stringify(bodyOf(response).slice(0, 40))}, expected ${JSON.stringify(expect.body)}`;
      return (await getItem({ pk: expect.pk, sk: expect.sk })) ? undefined : `item ${expect.sk} not stored`;
    }
    case 'reply': {
      const reply = openReply(C, bodyOf(response));
      return reply.msgType === 'text' && reply.content === expect.content ? undefined : 'wrong release-check reply';
    }
    case 'nothing':
      return bodyOf(response) === 'success' && wrote === 0 ? undefined : `body ${bodyOf(response)} after ${wrote} writes`;
  }
};

/** Runs one case; undefined when every guarantee held. */
const runCase = async (invoke: Invoke, c: Pick<FuzzCase, 'event' | 'verdict' | 'expect'>): Promise<{ problem?: string; accepted: boolean }> => {
  const from = recorded.calls.length;
  let response: HttpResult;
  try {
    response = await invoke(c.event);
  } catch (error) {
    return { problem: `threw ${(error as Error).name}: ${(error as Error).message}`, accepted: false };
  }
  const wrote = recorded.calls.slice(from).filter((call) => call.write && call.outcome === 'ok').length;
  const status = response.statusCode ?? 0;
  if (status === REJECTED_STATUS) {
    if (bodyOf(response) !== REJECTED_BODY) return { problem: `400 with body ${JSON.stringify(bodyOf(response).slice(0, 60))}`, accepted: false };
    if (wrote > 0) return { problem: `refused but wrote ${wrote} item(s)`, accepted: false };
    return c.verdict === 'valid' ? { problem: 'genuine push refused', accepted: false } : { accepted: false };
  }
  if (status !== 200) return { problem: `status ${status}`, accepted: false };
  if (c.verdict === 'invalid') return { problem: `invalid push accepted (${wrote} writes)`, accepted: true };
  if (c.verdict === 'either') return { accepted: true };
  try {
    const problem = await checkHandled(c.expect, response, wrote);
    return problem ? { problem, accepted: true } : { accepted: true };
  } catch (error) {
    return { problem: `answer unreadable: ${(error as Error).message}`, accepted: true };
  }
};

/** 0 mutations (the genuine push) 8%, 1: 62%, 2: 22%, 3: 8%. */
const mutationCount = (rng: Rng): number => {
  const r = rng.next();
  return r < 0.08 ? 0 : r < 0.7 ? 1 : r < 0.92 ? 2 : 3;
};

interface CorpusEntry {
  readonly url: Url;
  readonly seed: number;
  readonly index: number;
  readonly base: string;
  readonly mutations: readonly string[];
  readonly verdict: Verdict;
  readonly expect: Expect;
  readonly problem: string;
  readonly nowS: number;
  readonly event: APIGatewayProxyEventV2;
}

const saveToCorpus = (c: FuzzCase, problem: string): string => {
  mkdirSync(CORPUS, { recursive: true });
  const file = join(CORPUS, `${c.url}-${SEED}-${c.index}.json`);
  const entry: CorpusEntry = {
    url: c.url,
    seed: SEED,
    index: c.index,
    base: c.base,
    mutations: c.mutations,
    verdict: c.verdict,
    expect: c.expect,
    problem,
    nowS: CTX.nowS,
    event: c.event,
  };
  writeFileSync(file, `${JSON.stringify(entry, null, 1)}\n`);
  return file;
};

const corpusEntries = (): { file: string; entry: CorpusEntry }[] => {
  let files: string[] = [];
  try {
    files = readdirSync(CORPUS)
      .filter((f) => f.endsWith('.json'))
      .sort();
  } catch {
    return [];
  }
  return files.map((file) => ({ file, entry: JSON.parse(readFileSync(join(CORPUS, file), 'utf8')) as CorpusEntry }));
};

const prototypeKeys = () => Object.getOwnPropertyNames(Object.prototype).sort().join(',');

before(async () => {
  table = await createTestTable();
  recorded = faultyDocumentClient(table.endpoint);
  // Only error lines are kept: a refused push logs a warning, an unexpected failure logs an error.
  const logger = createLogger({ level: 'error', sink: (line) => errorLines.push(line) });
  deps = worldDeps(table, { doc: recorded.doc, clock: () => NOW, logger });
  const profile = { refreshToken: 'refreshtoken@@@fuzz-ours-0001', funcInfo: [1], authorizedAt: CTX.nowS - 300_000 };
  await saveAuthorization({ ...deps, doc: table.doc }, CTX.ours, profile);
  await saveAuthorization({ ...deps, doc: table.doc }, CTX.gone, profile);
  await markUnauthorized({ ...deps, doc: table.doc }, CTX.gone, CTX.nowS - 250_000);
  console.log(`push fuzz: seed ${SEED}, ${CASES_PER_URL} cases per URL (replay: FUZZ_SEED=${SEED}; long run: FUZZ_LONG=1)`);
});
after(async () => {
  recorded.close();
  await table.close();
});

describe('push URLs under hostile input (seeded fuzz)', () => {
  it('replays every case in tests/reliability/corpus without a crash and with its recorded verdict', async (t) => {
    // Prepare: the corpus holds the cases that once broke a guarantee, and hostile shapes kept as seeds.
    const invoke = handlers();
    const entries = corpusEntries();
    const problems: string[] = [];
    assert.ok(entries.length > 0, 'tests/reliability/corpus/ holds no case: nothing would be replayed');
    t.diagnostic(`${entries.length} corpus cases replayed`);
    // Act
    for (const { file, entry } of entries) {
      const { problem } = await runCase(invoke[entry.url], entry);
      if (problem) problems.push(`${file}: ${problem}`);
    }
    // Assess
    assert.deepEqual(problems, []);
  });

  it('builds the same case from the same seed and index, so any case replays exactly', () => {
    // Prepare
    const build = (seed: number, index: number) => {
      const c = buildCase('ticket', CTX, createRng(seed).fork(index), index, MUTATORS, 3);
      // Everything but the API Gateway receive time, which is the wall clock.
      const { requestContext: _received, ...event } = c.event;
      return { ...c, event };
    };
    // Act
    const [a, b, other] = [build(SEED, 7), build(SEED, 7), build(SEED + 1, 7)];
    // Assess
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.event.body, other.event.body);
  });

  for (const url of ['ticket', 'message'] as const) {
    it(`answers every mutated ${url}-URL push with 200 or the uniform 400, writes nothing when it refuses, and handles every genuine one`, async () => {
      // Prepare
      const invoke = handlers()[url];
      const root = createRng(SEED ^ (url === 'ticket' ? 0 : 0x5bd1e995));
      const prototypeBefore = prototypeKeys();
      const stats = { valid: 0, invalid: 0, either: 0, accepted: 0, refused: 0 };
      const applied = new Map<string, number>();
      const failures: string[] = [];
      errorLines.length = 0;
      const started = Date.now();
      // Act
      for (let index = 0; index < CASES_PER_URL; index += 1) {
        const rng = root.fork(index);
        const c = buildCase(url, CTX, rng, index, MUTATORS, mutationCount(rng));
        const { problem, accepted } = await runCase(invoke, c);
        stats[c.verdict] += 1;
        for (const name of c.mutations) applied.set(name, (applied.get(name) ?? 0) + 1);
        stats[accepted ? 'accepted' : 'refused'] += 1;
        if (problem && failures.length < 20) {
          const file = saveToCorpus(c, problem);
          failures.push(`#${c.index} ${c.base} [${c.mutations.join(', ')}] (${c.verdict}): ${problem} → ${file}`);
        }
      }
      console.log(`push fuzz ${url}: ${CASES_PER_URL} cases in ${Date.now() - started} ms, ${JSON.stringify(stats)}, ${applied.size} mutators used`);
      if (process.env.FUZZ_LONG === '1')
        console.log(
          `push fuzz ${url} mutators: ${[...applied]
            .sort()
            .map(([n, k]) => `${n}=${k}`)
            .join(' ')}`,
        );
      // Assess
      assert.deepEqual(failures, [], `seed ${SEED}`);
      assert.equal(prototypeKeys(), prototypeBefore);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.deepEqual(errorLines, []);
      assert.ok(stats.valid > CASES_PER_URL * 0.15 && stats.invalid > CASES_PER_URL * 0.3, `a useful mix of cases: ${JSON.stringify(stats)}`);
    });
  }
});
