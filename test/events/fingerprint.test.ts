import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { callFingerprint } from "../../src/events/fingerprint.js";

const sha256 = (text: string) => createHash("sha256").update(text).digest("base64url");

describe("callFingerprint", () => {
  it("hashes the arguments as canonical JSON: keys sorted, inner undefined as null, trailing undefined dropped", () => {
    const expected = { value: sha256('[1,null,{"a":1,"b":2}]'), check: true };
    expect(callFingerprint(true, [1, undefined, { b: 2, a: 1 }])).toEqual(expected);
    expect(callFingerprint(true, [1, undefined, { a: 1, b: 2 }, undefined, undefined])).toEqual(expected);
  });

  it("makes a call without arguments the same as one with only undefined arguments", () => {
    const empty = { value: sha256("[]"), check: true };
    expect(callFingerprint(true, [])).toEqual(empty);
    expect(callFingerprint(true, [undefined, undefined])).toEqual(empty);
  });

  it("hashes what a fingerprint function returns, and compares nothing with false", () => {
    expect(callFingerprint((a: number, b: number) => `${a + b}`, [1, 2])).toEqual({
      value: sha256("3"),
      check: true,
    });
    expect(callFingerprint(false, [1])).toEqual({ value: "unchecked", check: false });
  });

  it("names the argument that is not JSON data, and the options that would compare it", () => {
    expect(() => callFingerprint(true, ["ada", new Date(0)])).toThrow(
      /^arguments\[1\] is a Date.*pass fingerprint: \(\.\.\.args\) => string to say what identifies a call, or fingerprint: false/,
    );
  });

  it("rejects a fingerprint function that returns no string", () => {
    expect(() => callFingerprint(() => 3 as unknown as string, [])).toThrow(
      new TypeError("options.fingerprint must return a string"),
    );
  });
});
