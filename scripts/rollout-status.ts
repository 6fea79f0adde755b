// `npm run status -- --rollout <id>` (docs/fleet.md): a rollout's accounts per stage and its failures with WeChat's
// reason; in a terminal, a live progress line until the rollout settles (Ctrl-C leaves it running: it is a job).
import { getRolloutStatus, type RolloutStatus } from '../lib/fleet/status.ts';
import type { StoreDeps } from '../lib/store/keys.ts';

const BAR = 24;

/** One line: a bar of settled accounts and the non-zero stages. */
export const progressLine = (s: RolloutStatus): string => {
  const done = s.accounts === 0 ? 0 : Math.round((s.settled / s.accounts) * BAR);
  const stages = Object.entries(s.stages)
    .filter(([, n]) => n > 0)
    .map(([stage, n]) => `${stage} ${n}`)
    .join(', ');
  const waits = [s.waitingForQuota ? `${s.waitingForQuota} waiting for quota` : '', s.retrying ? `${s.retrying} retrying` : '']
    .filter(Boolean)
    .join(', ');
  return `[${'#'.repeat(done)}${'-'.repeat(BAR - done)}] ${s.settled}/${s.accounts} settled  ${stages}${waits ? `  (${waits})` : ''}`;
};

const indent = (text: string, by: number) => text.split('\n').join(`\n${' '.repeat(by)}`);

export const formatRolloutStatus = (s: RolloutStatus): string => {
  const lines = [
    `rollout ${s.rolloutId}: ${s.status}${s.halted ? ' (reverted: nothing moves forward)' : ''}, phase ${s.phase}`,
    `template ${s.templateId}, version ${s.userVersion}, release ${s.release}, created ${s.createdAt}${s.completedAt ? `, completed ${s.completedAt}` : ''}`,
    `${s.accounts} account(s), ${s.settled} settled, ${s.waitingForQuota} waiting for quota, ${s.retrying} retrying`,
    '',
    'STAGE            ACCOUNTS',
    ...Object.entries(s.stages)
      .filter(([, n]) => n > 0)
      .map(([stage, n]) => `${stage.padEnd(16)} ${n}`),
  ];
  if (s.failureCount > 0) {
    lines.push('', `failures (${s.failureCount}${s.failureCount > s.failures.length ? `, first ${s.failures.length} shown` : ''}):`);
    for (const f of s.failures) {
      const what = f.stage === 'failed' ? `failed at ${f.step ?? '?'}${f.errcode === undefined ? '' : ` (errcode ${f.errcode})`}` : 'audit rejected';
      const head = `  ${f.authorizerAppid}  ${what}: `;
      lines.push(`${head}${indent(f.reason, head.length)}`);
    }
  }
  if (s.skippedCount > 0) {
    lines.push('', `skipped at planning (${s.skippedCount}):`, ...s.skipped.map((k) => `  ${k.authorizerAppid} ${k.reason}`));
  }
  return `${lines.join('\n')}\n`;
};

/** Prints the status once, or (on a terminal) a live progress line until every account is settled, then the status. */
export const showRollout = async (deps: StoreDeps, rolloutId: string, out: NodeJS.WriteStream = process.stdout, intervalMs = 2000): Promise<void> => {
  let status = await getRolloutStatus(deps, rolloutId);
  if (out.isTTY) {
    while (status.settled < status.accounts || status.status === 'planning') {
      out.write(`\r\x1b[2K${progressLine(status)}`);
      await new Promise((r) => setTimeout(r, intervalMs));
      status = await getRolloutStatus(deps, rolloutId);
    }
    out.write(`\r\x1b[2K${progressLine(status)}\n\n`);
  }
  out.write(formatRolloutStatus(status));
};
