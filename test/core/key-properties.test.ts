// Key parsing against a model written from the rules (docs/semantics.md §2), over inputs far
// wider than printable ASCII: control characters, DEL, Latin-1, any Unicode, lone surrogates,
// and the characters the sf-string syntax gives meaning to.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseKeyHeader, validateKey } from "../../src/core/key.js";

const char = (from: number, to: number) =>
  fc.integer({ min: from, max: to }).map((c) => String.fromCharCode(c));
/** Characters weighted towards the ones the parser treats specially. */
const unit = fc.oneof(
  { weight: 6, arbitrary: char(0x20, 0x7e) },
  { weight: 2, arbitrary: fc.constantFrom('"', "\\", ",", " ", "\t") },
  { weight: 1, arbitrary: char(0x00, 0x1f) },
  { weight: 1, arbitrary: fc.constantFrom("\x7f", "\u00a0", "\u0085", "\u2028", "\ufeff", "\ud800") },
  { weight: 1, arbitrary: char(0x80, 0xff) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
);
const anyText = (maxLength: number) => fc.string({ unit, maxLength });

const printable = (text: string) => /^[\x20-\x7e]*$/.test(text);
/** Optional whitespace of an HTTP field value (RFC 9110 §5.6.3): spaces and tabs only. */
const ows = (text: string) => text.replace(/^[ \t]+|[ \t]+$/g, "");

/**
 * The rules, written independently of the parser: a field is an RFC 8941 sf-string (only
 * `\"` and `\\` escape) or a bare value without `"` or `,`; the key it names must be 1 to
 * `maxLength` characters of printable ASCII.
 */
function model(field: string, maxLength: number): string | undefined {
  const value = ows(field);
  let key: string;
  if (value.startsWith('"')) {
    const match = /^"((?:[^"\\]|\\["\\])*)"$/.exec(value);
    if (!match) return undefined;
    key = (match[1] as string).replace(/\\(["\\])/g, "$1");
  } else {
    if (/[",]/.test(value)) return undefined;
    key = value;
  }
  return key.length >= 1 && key.length <= maxLength && printable(key) ? key : undefined;
}

const sfString = (key: string) => `"${key.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;

describe("key parsing, property-based", () => {
  it("accepts exactly the fields the model accepts, as the same key", () => {
    fc.assert(
      fc.property(anyText(40), fc.integer({ min: 1, max: 40 }), (field, maxLength) => {
        const parsed = parseKeyHeader([field], maxLength);
        const expected = model(field, maxLength);
        expect(parsed?.ok ? parsed.key : undefined).toBe(expected);
      }),
      { numRuns: 5000 },
    );
  });

  it("accepts any string quoted as an sf-string exactly when it is a valid key", () => {
    fc.assert(
      fc.property(anyText(40), (key) => {
        const parsed = parseKeyHeader([` ${sfString(key)}\t`], 128);
        const valid = key.length > 0 && printable(key);
        expect(parsed).toEqual(valid ? { ok: true, key } : { ok: false, reason: expect.any(String) });
      }),
      { numRuns: 2000 },
    );
  });

  it("never accepts a key holding a control character, DEL or anything beyond ASCII", () => {
    const outside = fc.oneof(char(0x00, 0x1f), fc.constant("\x7f"), char(0x80, 0xffff));
    fc.assert(
      fc.property(anyText(20), outside, anyText(20), (before, bad, after) => {
        // Between two letters, so that no trimming of the field can take it away.
        const key = `${before}a${bad}a${after}`;
        expect(validateKey(key, 128).ok).toBe(false);
        expect(parseKeyHeader([key], 128)?.ok).toBe(false);
        expect(parseKeyHeader([sfString(key)], 128)?.ok).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it("refuses every field sent more than once, whatever the lines hold", () => {
    fc.assert(
      fc.property(fc.array(anyText(10), { minLength: 2, maxLength: 4 }), (lines) => {
        expect(parseKeyHeader(lines, 128)).toEqual({
          ok: false,
          reason: "the key header appears more than once",
        });
      }),
    );
  });
});
