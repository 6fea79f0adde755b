// Reading an action's input (the invoke payload without `action`): every problem is a BadRequestError that
// names the field, raised before any write or WeChat call (lib/admin/action.ts).
import { BadRequestError } from '../kernel/errors.ts';
import { isAppId } from '../wechat/ids.ts';
import type { ActionInput } from './action.ts';

/** Refuses fields the action does not know: a typo must not silently mean "the default". */
export const onlyFields = (input: ActionInput, allowed: readonly string[]): void => {
  const unknown = Object.keys(input).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    throw new BadRequestError(`unknown field(s): ${unknown.join(', ')}; this action takes ${allowed.length ? allowed.join(', ') : 'none'}`);
  }
};

/** An appid field; absent is allowed (undefined) unless `required`. */
export const appidField = (input: ActionInput, name: string, required = false): string | undefined => {
  const value = input[name];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || !isAppId(value)) throw new BadRequestError(`"${name}" must be an appid: wx followed by 16 letters or digits`);
  return value;
};

/** A string field (a number reads as its digits) matching `pattern`, described by `shape` in the error. */
export const textField = (input: ActionInput, name: string, pattern: RegExp, shape: string, required = false): string | undefined => {
  const value = typeof input[name] === 'number' ? String(input[name]) : input[name];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || !pattern.test(value)) throw new BadRequestError(`"${name}" must be ${shape}`);
  return value;
};

/** The same, for a field that must be there. */
export const requiredText = (input: ActionInput, name: string, pattern: RegExp, shape: string): string =>
  textField(input, name, pattern, shape, true) as string;

export const requiredAppid = (input: ActionInput, name: string): string => appidField(input, name, true) as string;

/** An integer field within [min, max]. */
export const integerField = (input: ActionInput, name: string, min: number, max: number): number | undefined => {
  const value = input[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new BadRequestError(`"${name}" must be an integer from ${min} to ${max}`);
  }
  return value;
};
