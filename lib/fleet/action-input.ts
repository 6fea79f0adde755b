// Validation of the fleet's operator actions (docs/fleet.md). Input comes from a direct invoke (JSON types) or
// from `npm run admin -- <action> --key value` (every value a string), so numbers, booleans, lists and objects are
// accepted in both forms. Anything wrong is a BadRequestError naming the field, before any write or WeChat call.
import { BadRequestError } from '../kernel/errors.ts';
import type { ActionInput } from '../admin/action.ts';
import type { ReleaseMode, RolloutTarget } from '../store/rollout-types.ts';
import type { PrivacySettingInput, SubmitAuditInput } from '../wechat/code-management-types.ts';
import { isAppId } from '../wechat/ids.ts';
import type { RolloutRequest } from './plan.ts';

const ROLLOUT_ID = /^\d{8}T\d{6}-[0-9a-f]{6}$/;
const EXT_JSON_MAX = 64 * 1024;

const only = (input: ActionInput, allowed: readonly string[]): void => {
  const unknown = Object.keys(input).filter((k) => k !== 'action' && !allowed.includes(k));
  if (unknown.length > 0) throw new BadRequestError(`unknown field(s): ${unknown.join(', ')}; allowed: ${allowed.join(', ')}`);
};

const integerField = (input: ActionInput, key: string, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number | undefined => {
  const raw = input[key];
  if (raw === undefined) return undefined;
  const n = typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max)
    throw new BadRequestError(`${key} must be an integer from ${min} to ${max}`);
  return n;
};

const stringField = (input: ActionInput, key: string, maxLength: number): string | undefined => {
  const raw = input[key];
  if (raw === undefined) return undefined;
  // `npm run admin -- … --userVersion 2.0` sends the number 2: refuse rather than store a different version.
  if (typeof raw === 'number')
    throw new BadRequestError(`${key} must be a string; on the command line quote a number-like value: --${key} '"${raw}"'`);
  if (typeof raw !== 'string' || raw.trim() === '' || raw.length > maxLength)
    throw new BadRequestError(`${key} must be a non-empty string of at most ${maxLength} characters`);
  return raw;
};

const required = <T>(value: T | undefined, key: string): T => {
  if (value === undefined) throw new BadRequestError(`${key} is required`);
  return value;
};

const booleanField = (input: ActionInput, key: string): boolean | undefined => {
  const raw = input[key];
  if (raw === undefined) return undefined;
  if (raw === true || raw === 'true') return true;
  if (raw === false || raw === 'false') return false;
  throw new BadRequestError(`${key} must be true or false`);
};

const objectField = (input: ActionInput, key: string): Record<string, unknown> | undefined => {
  const raw = input[key];
  if (raw === undefined) return undefined;
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      throw new BadRequestError(`${key} must be a JSON object (it does not parse)`);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BadRequestError(`${key} must be a JSON object`);
  return value as Record<string, unknown>;
};

const appidList = (raw: unknown): string[] => {
  const list = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()) : raw;
  if (!Array.isArray(list) || list.length === 0 || !list.every((a) => typeof a === 'string' && isAppId(a))) {
    throw new BadRequestError(
      'authorizers must be a non-empty list of appids (wx followed by 16 letters or digits), or a comma-separated string of them',
    );
  }
  return [...new Set(list as string[])];
};

const targetOf = (input: ActionInput): RolloutTarget => {
  const all = booleanField(input, 'all');
  const tenant = stringField(input, 'tenant', 128);
  const given = [input.authorizers !== undefined, tenant !== undefined, all === true].filter(Boolean).length;
  if (given !== 1 || all === false) throw new BadRequestError('name exactly one target: authorizers (a list of appids), tenant, or all: true');
  if (input.authorizers !== undefined) return { kind: 'authorizers', appids: appidList(input.authorizers) };
  return tenant !== undefined ? { kind: 'tenant', tenant } : { kind: 'all' };
};

const releaseOf = (input: ActionInput): ReleaseMode => {
  const raw = input.release ?? 'auto';
  if (raw === 'auto' || raw === 'manual') return raw;
  const gray = typeof raw === 'string' ? /^gray:(\d{1,3})$/.exec(raw) : null;
  const percent = gray ? Number(gray[1]) : Number.NaN;
  if (!(percent >= 1 && percent <= 100))
    throw new BadRequestError('release must be "auto", "manual" or "gray:<percent>" with a percent from 1 to 100');
  return `gray:${percent}`;
};

const extJsonOf = (input: ActionInput): string | undefined => {
  const doc = objectField(input, 'extJson');
  if (!doc) return undefined;
  const text = JSON.stringify(doc);
  if (text.length > EXT_JSON_MAX) throw new BadRequestError(`extJson is ${text.length} bytes; at most ${EXT_JSON_MAX}`);
  return text;
};

const privacyOf = (input: ActionInput): PrivacySettingInput | undefined => {
  const setting = objectField(input, 'privacySetting');
  if (!setting) return undefined;
  const owner = setting.ownerSetting as Record<string, unknown> | undefined;
  if (
    typeof owner?.noticeMethod !== 'string' ||
    !['contactEmail', 'contactPhone', 'contactQq', 'contactWeixin'].some((k) => typeof owner[k] === 'string')
  ) {
    throw new BadRequestError(
      'privacySetting.ownerSetting needs noticeMethod and at least one contact (contactEmail, contactPhone, contactQq, contactWeixin)',
    );
  }
  return setting as unknown as PrivacySettingInput;
};

const ROLLOUT_FIELDS = [
  'templateId',
  'userVersion',
  'userDesc',
  'extJson',
  'authorizers',
  'tenant',
  'all',
  'submitAudit',
  'release',
  'submit',
  'privacySetting',
];

/** The `rollout` action's input as a request. */
export const rolloutRequestOf = (input: ActionInput): RolloutRequest => {
  only(input, ROLLOUT_FIELDS);
  const extJson = extJsonOf(input);
  const submit = objectField(input, 'submit') as SubmitAuditInput | undefined;
  const privacySetting = privacyOf(input);
  return {
    templateId: required(integerField(input, 'templateId'), 'templateId'),
    userVersion: required(stringField(input, 'userVersion', 64), 'userVersion'),
    userDesc: required(stringField(input, 'userDesc', 1024), 'userDesc'),
    ...(extJson ? { extJson } : {}),
    submitAudit: booleanField(input, 'submitAudit') ?? true,
    release: releaseOf(input),
    ...(submit ? { submit } : {}),
    ...(privacySetting ? { privacySetting } : {}),
    target: targetOf(input),
  };
};

/** `{rolloutId}` of rolloutStatus, release and revert. */
export const rolloutIdOf = (input: ActionInput): string => {
  only(input, ['rolloutId']);
  const id = input.rolloutId;
  if (typeof id !== 'string' || !ROLLOUT_ID.test(id))
    throw new BadRequestError('rolloutId must be the id `rollout` returned, e.g. 20250101T000000-a1b2c3');
  return id;
};

/** `templates` {addDraftId?, deleteTemplateId?, templateType?}. */
export const templatesInputOf = (input: ActionInput) => {
  only(input, ['addDraftId', 'deleteTemplateId', 'templateType']);
  const templateType = integerField(input, 'templateType', { max: 1 }) as 0 | 1 | undefined;
  return { addDraftId: integerField(input, 'addDraftId'), deleteTemplateId: integerField(input, 'deleteTemplateId'), templateType };
};
