// Scans what leaves the platform (event Details) for anything secret: a known secret value (the caller collects
// them from the simulator and the table), WeChat's credential prefixes, a field named like a credential, or a
// long opaque string of the kind access and refresh tokens are.
const SECRET_KEY = /token|secret|ticket|password|encodingaeskey|^(auth_?)?code$|authorizationcode|preauthcode/i;
const CREDENTIAL_PREFIX = /(ticket|preauthcode|queryauthcode|refreshtoken)@@@/i;
const OPAQUE = /[A-Za-z0-9_-]{64,}/;

/** Every problem found in `value`, as `path: what`; empty when it is clean. */
export const findSecrets = (value: unknown, known: ReadonlySet<string>, path = '$'): string[] => {
  if (typeof value === 'string') {
    const problems: string[] = [];
    for (const secret of known) if (secret.length >= 8 && value.includes(secret)) problems.push(`${path}: contains a known secret value`);
    if (CREDENTIAL_PREFIX.test(value)) problems.push(`${path}: contains a WeChat credential`);
    if (OPAQUE.test(value)) problems.push(`${path}: contains a long opaque string`);
    return problems;
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => findSecrets(v, known, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => [
      ...(SECRET_KEY.test(k) ? [`${path}.${k}: a field named like a credential`] : []),
      ...findSecrets(v, known, `${path}.${k}`),
    ]);
  }
  return [];
};
