/**
 * What an appid looks like wherever one arrives from outside (pushes, paths, queries, invoke payloads):
 * `wx` and 16 letters or digits. Real appids are lowercase hex; the looser check only refuses garbage.
 * lib/runtime/config.ts holds the operator's own COMPONENT_APPID to the stricter hex form.
 */
export const APPID_PATTERN = /^wx[0-9A-Za-z]{16}$/;

export const isAppId = (value: string): boolean => APPID_PATTERN.test(value);
