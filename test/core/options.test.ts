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
  ])("rejects %s with a message that names the option", (_, options, message) => {
    expect(() => resolveOptions({ store, ...options })).toThrow(InvalidOptionError);
    expect(() => resolveOptions({ store, ...options })).toThrow(message);
  });
});
