// The JS-SDK signature a page passes to wx.config (docs/on-behalf.md): sha1 over
// `jsapi_ticket=…&noncestr=…&timestamp=…&url=…` (keys in ASCII order, values raw, not escaped), where url is
// the page's full URL with scheme and query exactly as the browser has it, and without its `#fragment`.
// Pure functions: no I/O, no clock, no randomness unless asked for.
import { createHash, randomInt } from 'node:crypto';
import { OnBehalfRequestError } from './errors.ts';

/** Longer page URLs are refused rather than signed (no real page needs more). */
export const MAX_PAGE_URL_LENGTH = 4096;

const NONCE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export interface JsapiSignatureInput {
  readonly ticket: string;
  readonly nonceStr: string;
  /** Epoch seconds, the value the page passes as `timestamp`. */
  readonly timestamp: number;
  /** The page URL; any fragment is removed before signing. */
  readonly url: string;
}

/** The URL WeChat signs: everything before the first `#`, otherwise untouched (never re-encoded or normalised). */
export const withoutFragment = (url: string): string => {
  const hash = url.indexOf('#');
  return hash === -1 ? url : url.slice(0, hash);
};

/**
 * Checks a page URL from a caller: an absolute http(s) URL within MAX_PAGE_URL_LENGTH. Returns it without its
 * fragment; throws OnBehalfRequestError naming the problem.
 */
export const pageUrl = (url: unknown): string => {
  if (typeof url !== 'string' || url.length === 0) throw new OnBehalfRequestError('"url" must be the page URL, e.g. location.href');
  if (url.length > MAX_PAGE_URL_LENGTH) throw new OnBehalfRequestError(`"url" is longer than ${MAX_PAGE_URL_LENGTH} characters`);
  const page = withoutFragment(url);
  let parsed: URL;
  try {
    parsed = new URL(page);
  } catch {
    throw new OnBehalfRequestError('"url" must be an absolute URL with scheme and host, e.g. https://h5.example.com/page?x=1');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new OnBehalfRequestError('"url" must be an http or https page URL');
  return page;
};

/** The wx.config signature: lowercase hex sha1 of the sorted, `&`-joined key=value string. */
export const jsapiSignature = (input: JsapiSignatureInput): string =>
  createHash('sha1')
    .update(`jsapi_ticket=${input.ticket}&noncestr=${input.nonceStr}&timestamp=${input.timestamp}&url=${withoutFragment(input.url)}`, 'utf8')
    .digest('hex');

/** A 16-character alphanumeric nonceStr, as the SDKs use. */
export const jsapiNonce = (length = 16): string => Array.from({ length }, () => NONCE_ALPHABET[randomInt(NONCE_ALPHABET.length)]).join('');
