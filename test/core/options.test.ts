import { describe, expect, it } from "vitest";
import { resolveOptions } from "../../src/core/options.js";
import { createStore, DEFAULTS, type IdempotencyOptions, InvalidOptionError } from "../../src/index.js";

describe("resolveOptions", async () => {
  const store = await createStore("memory:");

  /** The store's methods but `name`, so that every other method is there. */
  function withoutMethod(name: string): never {
    const methods = ["claim", "renew", "release", "appendChunk", "complete", "get", "readChunk"];
    return Object.fromEntries(
      methods.filter((method) => method !== name).map((method) => [method, () => {}]),
    ) as never;
  }

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
    [
      "a store without one of the contract's methods",
      { store: withoutMethod("readChunk") },
      "options.store must be an IdempotencyStore (see createStore(url))",
    ],
    ["a store that is no object", { store: "memory:" as never }, "options.store must be an IdempotencyStore"],
    ["a null store", { store: null as never }, "options.store must be an IdempotencyStore"],
    [
      "a negative storeBeforeSendBytes",
      { storeBeforeSendBytes: -1 },
      "options.storeBeforeSendBytes must be a whole number ≥ 0, got -1",
    ],
    [
      "a fractional maxBodyBytes",
      { maxBodyBytes: 0.5 },
      "options.maxBodyBytes must be a whole number ≥ 0, got 0.5",
    ],
    [
      "a maxRequestBodyBytes beyond safe integers",
      { maxRequestBodyBytes: 2 ** 53 },
      `options.maxRequestBodyBytes must be a whole number ≥ 0, got ${2 ** 53}`,
    ],
    [
      "a zero maxKeyLength",
      { maxKeyLength: 0 },
      "options.maxKeyLength must be a positive whole number, got 0",
    ],
    ["a zero retryAfter", { retryAfter: 0 }, "options.retryAfter must be a positive whole number, got 0"],
    [
      "methods that are no array",
      { methods: "POST" as never },
      "options.methods must be an array of non-empty strings",
    ],
    [
      "a method that is no string",
      { methods: [7] as never },
      "options.methods must be an array of non-empty strings",
    ],
    [
      "a header name that is no string",
      { header: 7 as never },
      "options.header must be a valid HTTP header name, got 7",
    ],
    [
      "an empty scopeHeader",
      { scopeHeader: "" },
      'options.scopeHeader must be a valid HTTP header name, got ""',
    ],
    [
      "a replayHeader with a colon",
      { replayHeader: "x:y" },
      'options.replayHeader must be a valid HTTP header name, got "x:y"',
    ],
    [
      "a storeHeader with a space",
      { storeHeader: "x y" },
      'options.storeHeader must be a valid HTTP header name, got "x y"',
    ],
    [
      "a scopeCookie with a space",
      { scopeCookie: "a b" },
      'options.scopeCookie must be a valid cookie name, got "a b"',
    ],
    [
      "a scopeCookie that is no string",
      { scopeCookie: 7 as never },
      "options.scopeCookie must be a valid cookie name, got 7",
    ],
    [
      "a fingerprint method flag that is no boolean",
      { fingerprint: { method: 1 as never } },
      "options.fingerprint.method must be true or false",
    ],
    [
      "a fingerprint path flag that is no boolean",
      { fingerprint: { path: null as never } },
      "options.fingerprint.path must be true or false",
    ],
    [
      "a fingerprint part that is no boolean",
      { fingerprint: { body: "no" as never } },
      "options.fingerprint.body must be true or false",
    ],
    [
      "a denied header that is empty",
      { responseHeaders: { deny: [""] } },
      "options.responseHeaders.deny must be an array of non-empty strings",
    ],
    [
      "an allowed header that is no string",
      { responseHeaders: { allow: [1] as never } },
      "options.responseHeaders.allow must be an array of non-empty strings",
    ],
    [
      "an unknown errorFormat",
      { errorFormat: "xml" as never },
      'options.errorFormat must be one of "problem", "stripe"',
    ],
    [
      "an unknown onStoreError",
      { onStoreError: "fail" as never },
      'options.onStoreError must be one of "closed", "open"',
    ],
    [
      "a shouldStore that is no function",
      { shouldStore: true as never },
      "options.shouldStore must be a function",
    ],
    ["a key that is no function", { key: "k" as never }, "options.key must be a function"],
    [
      "both key and keyJson",
      { key: () => "k", keyJson: "id" },
      "options.key and options.keyJson exclude each other; set one",
    ],
  ])("rejects %s with a message that names the option", (_, options, message) => {
    expect(() => resolveOptions({ store, ...options })).toThrow(InvalidOptionError);
    expect(() => resolveOptions({ store, ...options })).toThrow(message);
  });

  it("rejects options that are no object", () => {
    for (const options of [undefined, null, "memory:"]) {
      expect(() => resolveOptions(options as never)).toThrow(
        new InvalidOptionError("options must be an object"),
      );
    }
  });

  it("takes zero where a size or the wait may be zero", () => {
    const resolved = resolveOptions({
      store,
      wait: 0,
      storeBeforeSendBytes: 0,
      maxBodyBytes: 0,
      maxRequestBodyBytes: 0,
    });
    expect([
      resolved.wait,
      resolved.storeBeforeSendBytes,
      resolved.maxBodyBytes,
      resolved.maxRequestBodyBytes,
    ]).toEqual([0, 0, 0, 0]);
  });

  it("keeps the values given, with header and method names in one case and cookie names as given", () => {
    const hooks = { onExecuted: () => {} };
    const errorFormat = () => ({ failed: true });
    // Taken as they are.
    const kept = {
      maxKeyLength: 64,
      required: true,
      scopeCookie: "SessionId",
      fingerprint: { method: false, path: true, body: false },
      mismatch: "ignore",
      wait: 250,
      ttl: 5000,
      lease: 3000,
      storeBeforeSendBytes: 10,
      maxBodyBytes: 20,
      maxRequestBodyBytes: 30,
      onStoreError: "open",
      retryAfter: 7,
    } as const;
    const resolved = resolveOptions({
      store,
      ...kept,
      methods: ["post", "Put"],
      header: "X-Request-Key",
      scopeHeader: "X-Tenant",
      replayHeader: "X-Replayed",
      responseHeaders: { deny: ["Set-Cookie", "X-Secret"], allow: ["Content-Type", "X-Order"] },
      storeHeader: "X-Keep",
      errorFormat,
      hooks,
    });
    expect(resolved).toMatchObject({
      ...kept,
      methods: new Set(["POST", "PUT"]),
      header: "x-request-key",
      key: undefined,
      scope: undefined,
      scopeHeader: "x-tenant",
      replayHeader: "x-replayed",
      deniedHeaders: new Set(["set-cookie", "x-secret"]),
      allowedHeaders: new Set(["content-type", "x-order"]),
      storeHeader: "x-keep",
      chunkBytes: 1024 * 1024,
    });
    expect(resolved.errorFormat).toBe(errorFormat);
    expect(resolved.hooks).toBe(hooks);
  });

  it("defaults every other option as documented", () => {
    const resolved = resolveOptions({ store });
    const same = [
      "maxKeyLength",
      "required",
      "mismatch",
      "wait",
      "storeBeforeSendBytes",
      "maxBodyBytes",
      "maxRequestBodyBytes",
      "errorFormat",
      "onStoreError",
      "retryAfter",
    ] as const;
    for (const name of same) expect(resolved[name], name).toBe(DEFAULTS[name]);
    expect(resolved).toMatchObject({
      key: undefined,
      scopeHeader: "authorization",
      scopeCookie: undefined,
      fingerprint: { method: true, path: true, body: true },
      replayHeader: "x-idempotency-replayed",
      deniedHeaders: new Set(["set-cookie"]),
      allowedHeaders: undefined,
      storeHeader: "x-idempotency-store",
      hooks: {},
    });
    expect(resolveOptions({ store, fingerprint: { body: false } }).fingerprint).toEqual({
      method: true,
      path: true,
      body: false,
    });
  });

  it("takes keyJson as the key extractor of that field", async () => {
    const { key } = resolveOptions({ store, keyJson: "order_id" });
    const request = { method: "POST", path: "/", header: () => [], body: Buffer.from('{"order_id":"o-1"}') };
    expect(await key?.(request)).toBe("o-1");
  });
});
