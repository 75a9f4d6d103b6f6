import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalJson } from '../../src/integrity/canonical-json.js';
import { ValidationError } from '../../src/errors.js';

test('members are sorted by UTF-16 code units and there is no whitespace (RFC 8785 section 3.2.3 example)', () => {
  // The sorting example of RFC 8785: keys are ordered by UTF-16 code units, not by code points.
  const value = { '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' };
  assert.equal(
    canonicalJson(value),
    '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
  );
});

test('numbers use the ECMAScript shortest form (RFC 8785 appendix B samples)', () => {
  assert.equal(canonicalJson([1e21, 1e-7, -0, 0.000001, 123456789012345680000, 4.5, 333333333.3333333]), '[1e+21,1e-7,0,0.000001,123456789012345680000,4.5,333333333.3333333]');
});

test('nested objects and arrays canonicalise, undefined members are left out', () => {
  assert.equal(canonicalJson({ b: [3, { z: null, a: true }], a: 'x', u: undefined }), '{"a":"x","b":[3,{"a":true,"z":null}]}');
});

test('values JSON cannot hold are rejected with a ValidationError', () => {
  for (const bad of [NaN, Infinity, { a: () => 1 }, [undefined], { d: new Date(0) }, 'a\ud800b', 10n]) {
    assert.throws(() => canonicalJson(bad), ValidationError);
  }
  const cyc: Record<string, unknown> = {};
  cyc.self = cyc;
  assert.throws(() => canonicalJson(cyc), ValidationError);
});

test('property: canonical text parses back to an equal value and is independent of key order', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      const text = canonicalJson(v);
      assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(v)));
      const shuffled = JSON.parse(JSON.stringify(v), (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).reverse()) : x));
      assert.equal(canonicalJson(shuffled), text);
    }),
    { numRuns: 200 },
  );
});
