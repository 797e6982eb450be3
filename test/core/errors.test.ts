// The error family's stable codes, names and fields are public API: users branch on `code`
// and read `scope`, `key` or `packageName`; `isOncelyError` must recognise every member,
// even one thrown by a second copy of the package.
import { describe, expect, it } from "vitest";
import * as errors from "../../src/core/errors.js";

type OncelyError = errors.OncelyError;

const cause = new Error("the underlying failure");

describe("the oncely errors", () => {
  it.each<[OncelyError, string, string, string, Record<string, unknown>]>([
    [
      new errors.InvalidOptionError("options.ttl is wrong", { cause }),
      "InvalidOptionError",
      "ONCELY_INVALID_OPTION",
      "options.ttl is wrong",
      {},
    ],
    [
      new errors.InvalidStoreUrlError("no such scheme", { cause }),
      "InvalidStoreUrlError",
      "ONCELY_INVALID_STORE_URL",
      "no such scheme",
      {},
    ],
    [
      new errors.MissingDependencyError("pg", "The PostgreSQL store", { cause }),
      "MissingDependencyError",
      "ONCELY_MISSING_DEPENDENCY",
      'The PostgreSQL store needs the optional package "pg": run `npm install pg`',
      { packageName: "pg" },
    ],
    [
      new errors.IncompatibleDependencyError("better-sqlite3@13", "better-sqlite3 12 does not build here", {
        cause,
      }),
      "IncompatibleDependencyError",
      "ONCELY_INCOMPATIBLE_DEPENDENCY",
      "better-sqlite3 12 does not build here: run `npm install better-sqlite3@13`",
      { install: "better-sqlite3@13" },
    ],
    [
      new errors.StoreUnavailableError("connection refused", { cause }),
      "StoreUnavailableError",
      "ONCELY_STORE_UNAVAILABLE",
      "connection refused",
      {},
    ],
    [
      new errors.CorruptRecordError("tenant", "k1", "no status", { cause }),
      "CorruptRecordError",
      "ONCELY_CORRUPT_RECORD",
      'stored record for key "k1" is malformed: no status',
      { scope: "tenant", key: "k1" },
    ],
    [
      new errors.DecryptionFailedError("tenant", "k1", "the tag does not match", { cause }),
      "DecryptionFailedError",
      "ONCELY_DECRYPTION_FAILED",
      'stored record for key "k1" cannot be decrypted: the tag does not match',
      { scope: "tenant", key: "k1" },
    ],
  ])("%s has its name, stable code, message, fields and cause", (error, name, code, message, fields) => {
    expect(error).toBeInstanceOf(errors.OncelyError);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name, code, message, ...fields });
    expect(error.cause).toBe(cause);
    expect(errors.isOncelyError(error)).toBe(true);
  });

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
