// Regenerates the sample events in tests/events/ (`node scripts/make-events.ts`): real pushes, encrypted and
// signed with the local simulator's component credentials, in the API Gateway HTTP API v2 shape, so
// `npx sls invoke local -f <fn> --path tests/events/<name>.json` runs the whole verification path.
// Every input is fixed, so the output is byte-for-byte reproducible.
import { writeFileSync } from 'node:fs';
import { SIMULATOR_COMPONENT } from '../infra/local/credentials.ts';
import { encryptedPushEvent, ticketXml } from '../tests/helpers/wechat-push.ts';

const CREATE_TIME = Date.parse('2026-11-23T20:00:00Z') / 1000;
const KEYS = {
  token: SIMULATOR_COMPONENT.token,
  encodingAesKey: SIMULATOR_COMPONENT.encodingAesKey,
  appId: SIMULATOR_COMPONENT.appId,
  timestamp: String(CREATE_TIME),
  nonce: '506924817',
  random: Buffer.from('sampleRandom0001'),
};

const withFixedTime = <T extends { requestContext: { time: string; timeEpoch: number } }>(event: T): T => ({
  ...event,
  requestContext: { ...event.requestContext, time: new Date(CREATE_TIME * 1000).toUTCString(), timeEpoch: CREATE_TIME * 1000 },
});

const EVENTS: Record<string, () => object> = {
  // A component_verify_ticket push (docs/protocol.md §1.4); the ticket value is a local sample, not a real one.
  'ticket.json': () =>
    withFixedTime(
      encryptedPushEvent(ticketXml({ appId: SIMULATOR_COMPONENT.appId, createTime: CREATE_TIME, ticket: 'ticket@@@local-sample-ticket-0001' }), KEYS),
    ),
};

for (const [name, build] of Object.entries(EVENTS)) {
  writeFileSync(`tests/events/${name}`, `${JSON.stringify(build(), null, 2)}\n`);
  process.stdout.write(`wrote tests/events/${name}\n`);
}
