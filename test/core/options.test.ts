import { describe, expect, it } from "vitest";
import { resolveOptions } from "../../src/core/options.js";
import { createStore, type IdempotencyOptions, InvalidOptionError } from "../../src/index.js";

describe("resolveOptions", async () => {
  const store = await createStore("memory:");

  it("applies the documented defaults", () => {
    const resolved = resolveOptions({ store });
    expect([...resolved.methods]).toEqual(["POST", "PATCH"]);
    expect(resolved.header).toBe("idempotency-key");
    expect(resolved.ttl).toBe(86_400_000);
    expect(resolved.lease).toBe(60_000);
    expect(resolved.shouldStore(201)).toBe(true);
    expect([500, 408, 409, 425, 429].map(resolved.shouldStore)).toEqual([false, false, false, false, false]);
    expect(resolved.maxRequestBodyBytes).toBe(10 * 1024 * 1024);
    expect(resolved.maxUploadBytes).toBe(Number.POSITIVE_INFINITY);
  });

  it("takes maxUploadBytes as a whole number of bytes or Infinity", () => {
    expect(resolveOptions({ store, maxUploadBytes: 0 }).maxUploadBytes).toBe(0);
    expect(resolveOptions({ store, maxUploadBytes: 5 }).maxUploadBytes).toBe(5);
    expect(resolveOptions({ store, maxUploadBytes: Number.POSITIVE_INFINITY }).maxUploadBytes).toBe(
      Number.POSITIVE_INFINITY,
    );
  });

  it.each<[string, Partial<IdempotencyOptions>, string]>([
    ["a missing store", { store: undefined as never }, "options.store must be an IdempotencyStore"],
    ["a negative ttl", { ttl: -1 }, "options.ttl must be a positive whole number, got -1"],
    ["a fractional lease", { lease: 1.5 }, "options.lease must be a positive whole number, got 1.5"],
    [
      "an unknown mismatch mode",
      { mismatch: "drop" as never },
      'options.mismatch must be one of "reject", "ignore"',
    ],
    ["a header name with a space", { header: "Idem Key" }, "options.header must be a valid HTTP header name"],
    ["an empty method", { methods: [""] }, "options.methods must be an array of non-empty strings"],
    ["a non-function scope", { scope: "tenant" as never }, "options.scope must be a function"],
    ["a non-boolean required", { required: "yes" as never }, "options.required must be true or false"],
    ["a negative wait", { wait: -5 }, "options.wait must be a whole number ≥ 0, got -5"],
    [
      "a fractional upload cap",
      { maxUploadBytes: 1.5 },
      "options.maxUploadBytes must be a whole number of bytes or Infinity, got 1.5",
    ],
    [
      "a negative upload cap",
      { maxUploadBytes: -1 },
      "options.maxUploadBytes must be a whole number of bytes or Infinity, got -1",
    ],
    [
      "NaN as upload cap",
      { maxUploadBytes: Number.NaN },
      "options.maxUploadBytes must be a whole number of bytes or Infinity, got NaN",
    ],
  ])("rejects %s with a message that names the option", (_, options, message) => {
    expect(() => resolveOptions({ store, ...options })).toThrow(InvalidOptionError);
    expect(() => resolveOptions({ store, ...options })).toThrow(message);
  });
});
