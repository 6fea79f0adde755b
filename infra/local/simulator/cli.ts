// Runs the WeChat simulator on its own and prints its URL:
//   npx node infra/local/simulator/cli.ts --port 8088 --push-url http://127.0.0.1:3000/wechat/component/events
// Options: --port N (0 = free), --push-url URL, --ticket-interval-ms N (0 = none), --token-ttl-s N, --latency-ms N.
// Drive it over HTTP under /__sim/ (GET /__sim/health lists nothing secret). SIGINT/SIGTERM stop it.
import { parseArgs } from 'node:util';
import { startSimulator } from './index.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8088' },
    'push-url': { type: 'string' },
    'ticket-interval-ms': { type: 'string' },
    'token-ttl-s': { type: 'string' },
    'latency-ms': { type: 'string' },
  },
});

const number = (name: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) {
    console.error(`--${name} must be a non-negative integer`);
    process.exit(2);
  }
  return parsed;
};

const say = (line: string) => console.log(`[${new Date().toISOString()}] ${line}`);

const simulator = await startSimulator({
  port: number('port', values.port),
  pushUrl: values['push-url'],
  ticketIntervalMs: number('ticket-interval-ms', values['ticket-interval-ms']),
  tokenTtlS: number('token-ttl-s', values['token-ttl-s']),
  latencyMs: number('latency-ms', values['latency-ms']),
  log: say,
});
console.log(simulator.url);
say(`WeChat simulator for component ${simulator.component.appId} on ${simulator.url} (controls under ${simulator.url}/__sim/)`);

const stop = () => {
  void simulator.stop().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
