// `npm run release-check`: WeChat's full-network release test (全网发布) against a running `npm start`.
//   npm start                     # terminal 1
//   npm run release-check         # terminal 2; exits 0 when every case passes
// Options: --platform-url URL (default PUBLIC_BASE_URL from .local/env, else http://127.0.0.1:$PORT|3000),
// --simulator-url URL (default WECHAT_API_BASE_URL from .local/env), --appid wx… (one of the ten test
// accounts; default random), --timeout-ms N. Component credentials: COMPONENT_* from the environment, else
// from .local/env (written by `npm start`), else the simulator's own test credentials.
import { readLocalEnv } from '../infra/local/local-env.ts';
import { parseArgs } from 'node:util';
import { SIMULATOR_COMPONENT } from '../infra/local/credentials.ts';
import { formatReport, runReleaseCheck } from '../infra/local/simulator/release-check.ts';

const { values } = parseArgs({
  options: {
    'platform-url': { type: 'string' },
    'simulator-url': { type: 'string' },
    appid: { type: 'string' },
    'timeout-ms': { type: 'string' },
  },
});

const env = { ...readLocalEnv(), ...process.env };
const simulatorUrl = values['simulator-url'] ?? env.WECHAT_API_BASE_URL;
if (!simulatorUrl) {
  console.error('no simulator URL: start `npm start` first (it writes .local/env) or pass --simulator-url');
  process.exit(2);
}
const report = await runReleaseCheck({
  platformUrl: (values['platform-url'] ?? env.PUBLIC_BASE_URL ?? `http://127.0.0.1:${env.PORT ?? 3000}`).replace(/\/+$/, ''),
  simulatorUrl: simulatorUrl.replace(/\/+$/, ''),
  component: {
    appId: env.COMPONENT_APPID ?? SIMULATOR_COMPONENT.appId,
    token: env.COMPONENT_TOKEN ?? SIMULATOR_COMPONENT.token,
    encodingAesKey: env.COMPONENT_ENCODING_AES_KEY ?? SIMULATOR_COMPONENT.encodingAesKey,
  },
  ...(values.appid ? { authorizerAppid: values.appid } : {}),
  ...(values['timeout-ms'] ? { timeoutMs: Number(values['timeout-ms']) } : {}),
});
console.log(formatReport(report));
process.exit(report.pass ? 0 : 1);
