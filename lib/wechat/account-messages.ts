// What arrives, decrypted, at an authorized account's message URL (消息与事件接收URL): the standard official
// account / mini program messages and events (MsgType, Event), never an InfoType (docs/protocol.md §2, wechatpy#420).
// Every value stays a string except CreateTime: a real MsgId (22449548215715819) is above 2^53.
import { AppError } from '../kernel/errors.ts';
import { readXml } from './flat-xml.ts';
import type { XmlRecord } from './xml.ts';

interface MessageBase {
  /** The account's original id (gh_…). */
  readonly toUserName: string;
  /** The user's openid (or a system sender for audit events). */
  readonly fromUserName: string;
  /** Epoch seconds. */
  readonly createTime: number;
  /** Every top-level text element as sent, for handlers that need a field not modelled here. */
  readonly fields: Readonly<Record<string, string>>;
}

export interface TextMessage extends MessageBase {
  readonly msgType: 'text';
  readonly msgId: string;
  readonly content: string;
}

/** image, voice, video, shortvideo, location, link, file, miniprogrampage: a MsgId and type-specific fields. */
export interface MediaMessage extends MessageBase {
  readonly msgType: 'image' | 'voice' | 'video' | 'shortvideo' | 'location' | 'link' | 'file' | 'miniprogrampage';
  readonly msgId: string;
  readonly mediaId?: string;
}

export interface EventMessage extends MessageBase {
  readonly msgType: 'event';
  /** As WeChat spells it: `subscribe`, `LOCATION`, `CLICK`, `weapp_audit_success`, … */
  readonly event: string;
  readonly eventKey?: string;
}

/** A MsgType this module does not know yet; still verified, deduplicated and handed to the registry. */
export interface OtherMessage extends MessageBase {
  readonly msgType: 'other';
  readonly rawMsgType: string;
  readonly msgId?: string;
}

export type AccountMessage = TextMessage | MediaMessage | EventMessage | OtherMessage;
export type AccountMessageType = AccountMessage['msgType'];

const MEDIA_TYPES: readonly MediaMessage['msgType'][] = ['image', 'voice', 'video', 'shortvideo', 'location', 'link', 'file', 'miniprogrampage'];

/** A decrypted message without a field every message carries; `field` names it. */
export class AccountMessageError extends AppError {
  readonly field: string;
  constructor(field: string) {
    super(`message has a missing or malformed ${field}`);
    this.field = field;
  }
}

const textFields = (root: XmlRecord): Record<string, string> => {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(root)) if (typeof value === 'string') out[name] = value;
  return out;
};

const required = (fields: Record<string, string>, name: string): string => {
  const value = fields[name];
  if (value === undefined || value === '') throw new AccountMessageError(name);
  return value;
};

// Content may legitimately be empty or whitespace-only, and the parser trims: absent is the only error.
const present = (fields: Record<string, string>, name: string): string => {
  const value = fields[name];
  if (value === undefined) throw new AccountMessageError(name);
  return value;
};

const createTimeOf = (fields: Record<string, string>): number => {
  const raw = required(fields, 'CreateTime');
  if (!/^\d{1,12}$/.test(raw)) throw new AccountMessageError('CreateTime');
  return Number(raw);
};

/** Reads an already parsed `<xml>` root into a typed message. */
export const accountMessageFromXml = (root: XmlRecord): AccountMessage => {
  const fields = textFields(root);
  const base: MessageBase = {
    toUserName: required(fields, 'ToUserName'),
    fromUserName: required(fields, 'FromUserName'),
    createTime: createTimeOf(fields),
    fields,
  };
  const msgType = required(fields, 'MsgType');
  if (msgType === 'text') return { ...base, msgType, msgId: required(fields, 'MsgId'), content: present(fields, 'Content') };
  if (msgType === 'event') {
    const eventKey = fields.EventKey;
    return { ...base, msgType, event: required(fields, 'Event'), ...(eventKey === undefined ? {} : { eventKey }) };
  }
  const media = MEDIA_TYPES.find((t) => t === msgType);
  if (media) {
    const mediaId = fields.MediaId;
    return { ...base, msgType: media, msgId: required(fields, 'MsgId'), ...(mediaId === undefined ? {} : { mediaId }) };
  }
  const msgId = fields.MsgId;
  return { ...base, msgType: 'other', rawMsgType: msgType, ...(msgId === undefined ? {} : { msgId }) };
};

/**
 * Parses the decrypted XML of a message-URL push (the strict flat reader, the hardened parser for nested ones: flat-xml.ts).
 * @see https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Receiving_standard_messages.html
 */
export const parseAccountMessage = (xml: string | Buffer): AccountMessage => accountMessageFromXml(readXml(xml));

/** The three audit results WeChat pushes to a mini program's message URL (docs/fleet.md). */
export const AUDIT_EVENTS = { weapp_audit_success: 'success', weapp_audit_fail: 'fail', weapp_audit_delay: 'delay' } as const;
export type AuditOutcome = (typeof AUDIT_EVENTS)[keyof typeof AUDIT_EVENTS];

/** An audit result push. It names the mini program only by its gh_ id and carries no audit id. */
export interface AuditResult {
  readonly outcome: AuditOutcome;
  /** Epoch seconds: SuccTime / FailTime / DelayTime, else CreateTime. */
  readonly at: number;
  /** Fail and delay: WeChat's text (a `<br>`-separated numbered list for a rejection). */
  readonly reason?: string;
  /** Fail: media ids of the reviewer's screenshots (the element may be absent). */
  readonly screenshots: readonly string[];
}

const TIME_FIELD: Readonly<Record<AuditOutcome, string>> = { success: 'SuccTime', fail: 'FailTime', delay: 'DelayTime' };

/**
 * The audit result a message carries, or undefined when it is not one.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/code/audit_event.html
 */
export const auditResultOf = (message: AccountMessage): AuditResult | undefined => {
  if (message.msgType !== 'event' || !Object.hasOwn(AUDIT_EVENTS, message.event)) return undefined;
  const outcome = AUDIT_EVENTS[message.event as keyof typeof AUDIT_EVENTS];
  const time = message.fields[TIME_FIELD[outcome]];
  const at = time !== undefined && /^\d{1,12}$/.test(time) ? Number(time) : message.createTime;
  const reason = message.fields.Reason;
  const shots = message.fields.ScreenShot ?? message.fields.Screenshot ?? '';
  return { outcome, at, ...(reason ? { reason } : {}), screenshots: shots.split('|').filter(Boolean) };
};
