// The decrypted pushes of the authorization-event URL (docs/protocol.md §1.4), one variant per InfoType, each
// validated field by field: a missing or malformed field is a ComponentPushError naming it, never an undefined.
// Ids and codes stay strings; only times become numbers.
import { AppError } from '../kernel/errors.ts';
import { readXml } from './flat-xml.ts';
import type { XmlRecord } from './xml.ts';
import { APPID_PATTERN } from './ids.ts';

/** A push that parsed as XML but lacks a field its InfoType needs, or carries one in the wrong shape. */
export class ComponentPushError extends AppError {
  readonly field: string;
  readonly problem: 'missing' | 'malformed';
  constructor(field: string, problem: 'missing' | 'malformed') {
    super(`push field ${field} is ${problem}`);
    this.field = field;
    this.problem = problem;
  }
}

interface MessageBase {
  /** The component appid the push is for. */
  readonly appId: string;
  /** Epoch seconds. */
  readonly createTime: number;
  /** Every field as sent, as strings; nested elements flattened to `parent.child` (e.g. `info.name`). */
  readonly fields: Readonly<Record<string, string>>;
}

export interface VerifyTicketPush extends MessageBase {
  readonly infoType: 'component_verify_ticket';
  readonly componentVerifyTicket: string;
}

export interface AuthorizedPush extends MessageBase {
  readonly infoType: 'authorized' | 'updateauthorized';
  readonly authorizerAppid: string;
  readonly authorizationCode: string;
  /** Epoch seconds (CreateTime + 3600 in every real sample). */
  readonly authorizationCodeExpiredTime: number;
  /** Absent on the full-network test's automatic authorization. */
  readonly preAuthCode?: string;
}

export interface UnauthorizedPush extends MessageBase {
  readonly infoType: 'unauthorized';
  readonly authorizerAppid: string;
}

/** Result of a fast registration of a mini program; on `status` 0 `appid` and `authCode` are present. */
export interface FastRegisterPush extends MessageBase {
  readonly infoType: 'notify_third_fasteregister';
  /** The new mini program's appid. */
  readonly appid?: string;
  readonly status: number;
  readonly authCode?: string;
  readonly msg: string;
  readonly info: Readonly<Record<string, string>>;
}

/** Any other InfoType: kept whole so it can be logged and acknowledged. */
export interface UnknownPush {
  readonly infoType: 'unknown';
  readonly rawInfoType: string;
  readonly appId: string;
  readonly createTime?: number;
  readonly fields: Readonly<Record<string, string>>;
}

export type ComponentPush = VerifyTicketPush | AuthorizedPush | UnauthorizedPush | FastRegisterPush | UnknownPush;

/** The InfoTypes that become EVENT items for the `authorized` function. */
export type AuthEventPush = AuthorizedPush | UnauthorizedPush | FastRegisterPush;
const AUTH_EVENT_TYPES: readonly AuthEventPush['infoType'][] = ['authorized', 'updateauthorized', 'unauthorized', 'notify_third_fasteregister'];
export const isAuthEvent = (m: ComponentPush): m is AuthEventPush => (AUTH_EVENT_TYPES as readonly string[]).includes(m.infoType);

const EPOCH = /^\d{1,12}$/;
const INTEGER = /^-?\d{1,12}$/;
const INFO_TYPE = /^[A-Za-z0-9_]{1,64}$/;
const MAX_VALUE = 1024;
const KNOWN = new Set<string>(['component_verify_ticket', ...AUTH_EVENT_TYPES]);

/** Flattens the parsed document to `name → string`; a repeated element is ambiguous and refused. */
const flatten = (record: XmlRecord, prefix = '', out: Record<string, string> = Object.create(null) as Record<string, string>) => {
  // Records are null-prototype (xml.ts, flat-xml.ts): for…in sees their own names only.
  for (const name in record) {
    const value = record[name];
    const path = prefix === '' ? name : `${prefix}${name}`;
    if (typeof value === 'string') out[path] = value.trim();
    else if (Array.isArray(value)) throw new ComponentPushError(path, 'malformed');
    else if (value !== undefined) flatten(value as XmlRecord, `${path}.`, out);
  }
  return out;
};

type Fields = Readonly<Record<string, string>>;

/** A freshly read flat document is its own flat fields once trimmed: no copy (the reader's record is ours). */
const fieldsOf = (record: XmlRecord): Record<string, string> => {
  const fields = record as Record<string, string>;
  for (const name in record) {
    const value = record[name];
    // Nested: flatten (which trims every value again, so those trimmed here already are no matter).
    if (typeof value !== 'string') return flatten(record);
    const trimmed = value.trim();
    if (trimmed !== value) fields[name] = trimmed;
  }
  return fields;
};

const optional = (fields: Fields, name: string): string | undefined => {
  const value = fields[name];
  if (value === undefined || value === '') return undefined;
  if (value.length > MAX_VALUE) throw new ComponentPushError(name, 'malformed');
  return value;
};
const required = (fields: Fields, name: string, pattern?: RegExp): string => {
  const value = optional(fields, name);
  if (value === undefined) throw new ComponentPushError(name, 'missing');
  if (pattern && !pattern.test(value)) throw new ComponentPushError(name, 'malformed');
  return value;
};
const epoch = (fields: Fields, name: string): number => Number(required(fields, name, EPOCH));

const fastRegister = (fields: Fields, base: MessageBase): FastRegisterPush => {
  const status = Number(required(fields, 'status', INTEGER));
  const appid = status === 0 ? required(fields, 'appid', APPID_PATTERN) : optional(fields, 'appid');
  const authCode = status === 0 ? required(fields, 'auth_code') : optional(fields, 'auth_code');
  const info: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of Object.entries(fields)) if (key.startsWith('info.')) info[key.slice(5)] = value;
  const msg = optional(fields, 'msg') ?? '';
  return { ...base, infoType: 'notify_third_fasteregister', status, msg, info, ...(appid ? { appid } : {}), ...(authCode ? { authCode } : {}) };
};

const authorized = (fields: Fields, base: MessageBase, infoType: AuthorizedPush['infoType']): AuthorizedPush => {
  const preAuthCode = optional(fields, 'PreAuthCode');
  return {
    ...base,
    infoType,
    authorizerAppid: required(fields, 'AuthorizerAppid', APPID_PATTERN),
    authorizationCode: required(fields, 'AuthorizationCode'),
    authorizationCodeExpiredTime: epoch(fields, 'AuthorizationCodeExpiredTime'),
    ...(preAuthCode ? { preAuthCode } : {}),
  };
};

/** Validates flat fields (a parsed push, or an EVENT payload read back) into a message. */
export const componentPushFromFields = (fields: Fields): ComponentPush => {
  const infoType = required(fields, 'InfoType', INFO_TYPE);
  const appId = required(fields, 'AppId', APPID_PATTERN);
  if (!KNOWN.has(infoType)) {
    const createTime = optional(fields, 'CreateTime');
    return {
      infoType: 'unknown',
      rawInfoType: infoType,
      appId,
      fields,
      ...(createTime && EPOCH.test(createTime) ? { createTime: Number(createTime) } : {}),
    };
  }
  const base: MessageBase = { appId, createTime: epoch(fields, 'CreateTime'), fields };
  switch (infoType) {
    case 'component_verify_ticket':
      return { ...base, infoType, componentVerifyTicket: required(fields, 'ComponentVerifyTicket') };
    case 'authorized':
    case 'updateauthorized':
      return authorized(fields, base, infoType);
    case 'unauthorized':
      return { ...base, infoType, authorizerAppid: required(fields, 'AuthorizerAppid', APPID_PATTERN) };
    default:
      return fastRegister(fields, base);
  }
};

/**
 * Parses and validates a decrypted push of the authorization-event URL.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/authorize_event.html
 */
export const parseComponentPush = (xml: string | Buffer): ComponentPush => componentPushFromFields(fieldsOf(readXml(xml)));

/** The id of the account an event is about: the authorizer, or the new mini program of a fast registration. */
export const subjectAppid = (m: AuthEventPush): string | undefined => (m.infoType === 'notify_third_fasteregister' ? m.appid : m.authorizerAppid);
