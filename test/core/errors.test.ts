// The error family's stable codes, names and fields are public API: users branch on `code`
// and read `scope`, `key` or `packageName`; `isOncelyError` must recognise every member,
// even one thrown by a second copy of the package.
import { describe, expect, it } from "vitest";
import * as errors from "../../src/core/errors.js";

type OncelyError = errors.OncelyError;

const cause = new Error("the underlying failure");

describe("the oncely errors", () => {
  // Made inside each test (not while the table is built) so that the test sees the code it runs.
  it.each<{
    name: string;
    make: () => OncelyError;
    code: string;
    message: string;
    fields?: Record<string, unknown>;
  }>([
    {
      name: "InvalidOptionError",
      make: () => new errors.InvalidOptionError("options.ttl is wrong", { cause }),
      code: "ONCELY_INVALID_OPTION",
      message: "options.ttl is wrong",
    },
    {
      name: "InvalidStoreUrlError",
      make: () => new errors.InvalidStoreUrlError("no such scheme", { cause }),
      code: "ONCELY_INVALID_STORE_URL",
      message: "no such scheme",
    },
    {
      name: "MissingDependencyError",
      make: () => new errors.MissingDependencyError("pg", "The PostgreSQL store", { cause }),
      code: "ONCELY_MISSING_DEPENDENCY",
      message: 'The PostgreSQL store needs the optional package "pg": run `npm install pg`',
      fields: { packageName: "pg" },
    },
    {
      name: "IncompatibleDependencyError",
      make: () =>
        new errors.IncompatibleDependencyError("better-sqlite3@13", "better-sqlite3 12 does not build here", {
          cause,
        }),
      code: "ONCELY_INCOMPATIBLE_DEPENDENCY",
      message: "better-sqlite3 12 does not build here: run `npm install better-sqlite3@13`",
      fields: { install: "better-sqlite3@13" },
    },
    {
      name: "StoreUnavailableError",
      make: () => new errors.StoreUnavailableError("connection refused", { cause }),
      code: "ONCELY_STORE_UNAVAILABLE",
      message: "connection refused",
    },
    {
      name: "CorruptRecordError",
      make: () => new errors.CorruptRecordError("tenant", "k1", "no status", { cause }),
      code: "ONCELY_CORRUPT_RECORD",
      message: 'stored record for key "k1" is malformed: no status',
      fields: { scope: "tenant", key: "k1" },
    },
    {
      name: "DecryptionFailedError",
      make: () => new errors.DecryptionFailedError("tenant", "k1", "the tag does not match", { cause }),
      code: "ONCELY_DECRYPTION_FAILED",
      message: 'stored record for key "k1" cannot be decrypted: the tag does not match',
      fields: { scope: "tenant", key: "k1" },
    },
  ])(
    "$name has its name, stable code, message, fields and cause",
    ({ name, make, code, message, fields }) => {
      const error = make();
      expect(error).toBeInstanceOf(errors.OncelyError);
      expect(error).toBeInstanceOf(Error);
      expect(error).toMatchObject({ name, code, message, ...fields });
      expect(error.cause).toBe(cause);
      expect(errors.isOncelyError(error)).toBe(true);
    },
  );

  it("has the same for the errors that take no cause", () => {
    const unknownKey = new errors.UnknownEncryptionKeyError("tenant", "k1", "2026-01");
    expect(unknownKey).toMatchObject({
      name: "UnknownEncryptionKeyError",
      code: "ONCELY_UNKNOWN_ENCRYPTION_KEY",
      message: 'stored record for key "k1" is encrypted under key id "2026-01", which is not configured',
      scope: "tenant",
      key: "k1",
      keyId: "2026-01",
    });
    const closed = new errors.StoreClosedError();
    expect(closed).toMatchObject({
      name: "StoreClosedError",
      code: "ONCELY_STORE_CLOSED",
      message: "the store is closed",
    });
    expect([unknownKey, closed].every(errors.isOncelyError)).toBe(true);
  });

  it("are recognised by their brand, also from another copy of the package, and nothing else is", () => {
    const fromAnotherCopy = Object.assign(new Error("x"), { [Symbol.for("oncely.error")]: true });
    expect(errors.isOncelyError(fromAnotherCopy)).toBe(true);
    for (const value of [
      new Error("plain"),
      { code: "ONCELY_STORE_CLOSED" },
      { [Symbol.for("oncely.error")]: "yes" },
      null,
      undefined,
      "ONCELY_STORE_CLOSED",
    ]) {
      expect(errors.isOncelyError(value)).toBe(false);
    }
  });
});
