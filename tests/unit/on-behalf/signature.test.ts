// The wx.config signature (lib/on-behalf/signature.ts) against the JS-SDK documentation's worked example.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsapiNonce, jsapiSignature, MAX_PAGE_URL_LENGTH, pageUrl, withoutFragment } from '../../../lib/on-behalf/signature.ts';
import { OnBehalfRequestError } from '../../../lib/on-behalf/errors.ts';

// The documented example (docs/on-behalf.md §3): one ticket, nonce and timestamp, signed over two page URLs.
const DOCUMENTED = {
  ticket: 'sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg',
  nonceStr: 'Wm3WZYTPz0wzccnW',
  timestamp: 1414587457,
};

describe('signature.jsapiSignature', () => {
  it('reproduces the documented worked example for a page with a query', () => {
    assert.equal(jsapiSignature({ ...DOCUMENTED, url: 'http://mp.weixin.qq.com?params=value' }), '0f9de62fce790f9a083d5c99e95740ceb90c27ed');
  });

  it("reproduces the older documentation's example for the bare page", () => {
    assert.equal(jsapiSignature({ ...DOCUMENTED, url: 'http://mp.weixin.qq.com' }), 'f4d90daf4b3bca3078ab155816175ba34c443a7b');
  });

  it('signs the URL without its fragment, which signing the whole string would not', () => {
    // Prepare
    const withFragment = 'http://mp.weixin.qq.com?params=value#frag';
    // Act
    const signature = jsapiSignature({ ...DOCUMENTED, url: withFragment });
    // Assess
    assert.equal(signature, '0f9de62fce790f9a083d5c99e95740ceb90c27ed');
    // The documented value for signing the string with its fragment, the classic "invalid signature".
    assert.notEqual(signature, 'b739d84cd9d554c46eddcefc9204e9f2196ecafd');
  });
});

describe('signature.pageUrl', () => {
  it('keeps scheme, host, path and query exactly as given and drops only the fragment', () => {
    assert.equal(pageUrl('https://h5.example.com/a/b?x=1&y=%E4%B8%AD#/route?z=2'), 'https://h5.example.com/a/b?x=1&y=%E4%B8%AD');
    assert.equal(pageUrl('https://H5.example.com/?q=a b'), 'https://H5.example.com/?q=a b');
    assert.equal(withoutFragment('https://x.test/p'), 'https://x.test/p');
  });

  it('refuses what is not an absolute http(s) page URL, naming the problem', () => {
    const cases: [unknown, RegExp][] = [
      [undefined, /page URL/],
      ['', /page URL/],
      [42, /page URL/],
      ['/relative/page', /absolute URL/],
      ['#only-a-fragment', /absolute URL/],
      ['ftp://files.example.com/x', /http or https/],
      [`https://h5.example.com/${'a'.repeat(MAX_PAGE_URL_LENGTH)}`, /longer than/],
    ];
    for (const [url, message] of cases) {
      assert.throws(
        () => pageUrl(url),
        (e: unknown) => e instanceof OnBehalfRequestError && e.type === 'bad_request' && message.test(e.message),
        String(url),
      );
    }
  });
});

describe('signature.jsapiNonce', () => {
  it('makes 16 alphanumeric characters, different each time', () => {
    const nonces = Array.from({ length: 50 }, () => jsapiNonce());
    assert.ok(nonces.every((n) => /^[A-Za-z0-9]{16}$/.test(n)));
    assert.equal(new Set(nonces).size, 50);
  });
});
