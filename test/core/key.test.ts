import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseKeyHeader } from "../../src/core/key.js";

const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  minLength: 1,
  maxLength: 128,
});
const sfString = (key: string) => `"${key.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;

describe("parseKeyHeader", () => {
  it("reads every printable key back from its sf-string form", () => {
    fc.assert(
      fc.property(printable, (key) => {
        expect(parseKeyHeader([sfString(key)], 128)).toEqual({ ok: true, key });
      }),
    );
  });

  it("reads a bare key as the same key as its sf-string form", () => {
    const bare = printable.filter((key) => !/[",]/.test(key) && key.trim() === key);
    fc.assert(
      fc.property(bare, (key) => {
        expect(parseKeyHeader([key], 128)).toEqual(parseKeyHeader([sfString(key)], 128));
      }),
    );
  });

  it("never accepts a key longer than the limit, whatever its form", () => {
    fc.assert(
      fc.property(printable, fc.integer({ min: 1, max: 127 }), (key, limit) => {
        const result = parseKeyHeader([sfString(key)], limit);
        expect(result?.ok).toBe(key.length <= limit);
      }),
    );
  });

  it("returns undefined without a header and rejects two header lines", () => {
    expect(parseKeyHeader([], 128)).toBeUndefined();
    expect(parseKeyHeader(["a", "a"], 128)).toEqual({
      ok: false,
      reason: "the key header appears more than once",
    });
    expect(parseKeyHeader(['"a\\x"'], 128)).toEqual({
      ok: false,
      reason: "the quoted key has an invalid escape",
    });
    expect(parseKeyHeader(['"a" b'], 128)).toEqual({
      ok: false,
      reason: "the key header has text after the quoted key",
    });
    expect(parseKeyHeader(['ab"c'], 128)).toEqual({ ok: false, reason: "the key has an unbalanced quote" });
  });
});
