// Regenerates tests/events/message.json (`node scripts/make-message-event.ts`): the release check's text
// message (TESTCOMPONENT_MSG_TYPE_TEXT) to test account wx570bc396a51b8ff8, encrypted and signed with the
// local simulator's component credentials exactly as WeChat sends it to the message URL, in the API Gateway
// HTTP API v2 shape. `npx sls invoke local -f message --path tests/events/message.json` answers it with the
// encrypted passive reply; the release-test account needs no stored profile, so no table item is needed.
// Every input is fixed, so the output is byte-for-byte reproducible.
import { writeFileSync } from 'node:fs';
import { SIMULATOR_COMPONENT } from '../infra/local/credentials.ts';
import { keysFrom, sealEnvelope } from '../lib/wechat/crypto.ts';
import { textXml } from '../tests/helpers/wechat-message.ts';
import { httpEvent, pushQuery } from '../tests/helpers/wechat-push.ts';

const CREATE_TIME = Date.parse('2026-11-23T20:00:00Z') / 1000;
const APPID = 'wx570bc396a51b8ff8';
const GH_ID = 'gh_3c884a361561';
const OPENID = 'ozy4qt1eDxSxzCr0aNT0mXCWfrDE';

const inner = textXml({
  toUser: GH_ID,
  fromUser: OPENID,
  createTime: CREATE_TIME,
  content: 'TESTCOMPONENT_MSG_TYPE_TEXT',
  msgId: '22449548215715819',
});
const envelope = sealEnvelope(keysFrom(SIMULATOR_COMPONENT, SIMULATOR_COMPONENT.appId), inner, {
  timestamp: String(CREATE_TIME),
  nonce: '1320562132',
  random: Buffer.from('sampleRandom0002'),
});
const base = httpEvent({
  rawPath: `/wechat/authorizers/${APPID}/callback`,
  query: { ...pushQuery(SIMULATOR_COMPONENT.token, envelope), openid: OPENID },
  body: `<xml><ToUserName><![CDATA[${GH_ID}]]></ToUserName>\n<Encrypt><![CDATA[${envelope.encrypt}]]></Encrypt>\n</xml>`,
  time: CREATE_TIME * 1000,
});
const event = { ...base, routeKey: 'POST /wechat/authorizers/{appid}/callback', pathParameters: { appid: APPID } };
event.requestContext = { ...event.requestContext, routeKey: 'POST /wechat/authorizers/{appid}/callback' };
writeFileSync('tests/events/message.json', `${JSON.stringify(event, null, 2)}\n`);
process.stdout.write('wrote tests/events/message.json\n');
