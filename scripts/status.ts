// `npm run status`: the operator's view of every authorizer: appid, name, type, status, when its access
// token expires and which permissions it granted (`--rollout <id>`: one rollout instead, scripts/rollout-status.ts). Never a token. Reads the table named by TABLE_NAME
// (default wechat-component-dev) at DYNAMODB_ENDPOINT (unset: AWS, with the usual credential chain). With
// neither set in the shell, it reads the running `npm start`'s .local/env.
import { fileURLToPath } from 'node:url';
import { readLocalEnv } from '../infra/local/local-env.ts';
import { systemClock, nowSeconds } from '../lib/kernel/clock.ts';
import { createDocumentClient } from '../lib/runtime/deps.ts';
import { getAuthorizer, listAuthorizers, type AuthorizerSummary } from '../lib/store/authorizers.ts';
import type { StoreDeps } from '../lib/store/keys.ts';
import type { AuthorizerInfo } from '../lib/wechat/responses.ts';
import { showRollout } from './rollout-status.ts';

export interface StatusRow extends AuthorizerSummary {
  readonly type?: string;
}

const SERVICE_TYPES: Readonly<Record<number, string>> = { 0: 'subscription', 1: 'subscription', 2: 'service' };

/** "mini program", "official (service)", "official (subscription)". */
export const typeOf = (info: Pick<AuthorizerInfo, 'isMiniProgram' | 'serviceTypeId'>): string => {
  if (info.isMiniProgram) return 'mini program';
  const service = info.serviceTypeId === undefined ? undefined : SERVICE_TYPES[info.serviceTypeId];
  return service ? `official (${service})` : 'official';
};

/** Every authorizer, page by page, with its account type from the profile. */
export const collectStatus = async (deps: StoreDeps): Promise<StatusRow[]> => {
  const rows: StatusRow[] = [];
  let cursor: string | undefined;
  do {
    const page = await listAuthorizers(deps, cursor ? { cursor } : {});
    for (const summary of page.authorizers) {
      const info = (await getAuthorizer(deps, summary.authorizerAppid))?.info;
      rows.push({ ...summary, ...(info ? { type: typeOf(info) } : {}) });
    }
    cursor = page.cursor;
  } while (cursor);
  return rows;
};

/** "1h 59m", "expired", or "-" when no token is stored. */
export const expiresIn = (tokenExpiresAt: number | undefined, now: number): string => {
  if (tokenExpiresAt === undefined) return '-';
  const s = tokenExpiresAt - now;
  if (s <= 0) return 'expired';
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
};

/** A plain-text table, columns padded to their widest cell. */
export const formatStatus = (rows: readonly StatusRow[], now: number): string => {
  const header = ['APPID', 'NAME', 'TYPE', 'STATUS', 'TOKEN EXPIRES IN', 'PERMISSIONS'];
  const cells = rows.map((r) => [
    r.authorizerAppid,
    r.nickName ?? '-',
    r.type ?? '-',
    r.status,
    expiresIn(r.tokenExpiresAt, now),
    `${r.funcInfo.length}: ${r.funcInfo.join(',')}`,
  ]);
  const table = [header, ...cells];
  const widths = header.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  const lines = table.map((row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
  return `${lines.join('\n')}\n${rows.length} authorizer(s)\n`;
};

const main = async () => {
  const fromShell = process.env.DYNAMODB_ENDPOINT !== undefined || process.env.TABLE_NAME !== undefined;
  const env = fromShell ? process.env : { ...readLocalEnv(), ...process.env };
  const doc = createDocumentClient({ dynamodbEndpoint: env.DYNAMODB_ENDPOINT || undefined });
  const deps: StoreDeps = { doc, tableName: env.TABLE_NAME || 'wechat-component-dev', clock: systemClock };
  const rollout = process.argv.indexOf('--rollout');
  if (rollout >= 0) {
    const id = process.argv[rollout + 1];
    if (!id) throw new Error('--rollout needs the id `rollout` returned');
    await showRollout(deps, id);
    doc.destroy();
    return;
  }
  const rows = await collectStatus(deps);
  process.stdout.write(process.argv.includes('--json') ? `${JSON.stringify(rows, null, 2)}\n` : formatStatus(rows, nowSeconds(systemClock)));
  doc.destroy();
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: Error) => {
    process.stderr.write(`status: ${error.name}: ${error.message}\n`);
    process.exit(1);
  });
}
