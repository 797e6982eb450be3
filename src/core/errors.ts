/**
 * The oncely error family: one base class with a stable `code`, a subclass per failure.
 *
 * Use the `isOncelyError` guard rather than `instanceof` when two copies of the package
 * may be loaded: it checks a brand that survives duplication.
 *
 * @module
 */

const brand = Symbol.for("oncely.error");

/** Base class of every error oncely throws. */
export class OncelyError extends Error {
  /** A stable, machine-readable identifier such as `ONCELY_CORRUPT_RECORD`. */
  readonly code: string;
  readonly [brand] = true;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Options passed to a factory or to `createStore` are invalid. */
export class InvalidOptionError extends OncelyError {
  constructor(message: string, options?: ErrorOptions) {
    super("ONCELY_INVALID_OPTION", message, options);
  }
}

/** A store URL is malformed or names an unknown scheme. */
export class InvalidStoreUrlError extends OncelyError {
  constructor(message: string, options?: ErrorOptions) {
    super("ONCELY_INVALID_STORE_URL", message, options);
  }
}

/** An optional peer dependency that the chosen feature needs is not installed. */
export class MissingDependencyError extends OncelyError {
  /** The npm package to install. */
  readonly packageName: string;

  constructor(packageName: string, feature: string, options?: ErrorOptions) {
    super(
      "ONCELY_MISSING_DEPENDENCY",
      `${feature} needs the optional package "${packageName}": run \`npm install ${packageName}\``,
      options,
    );
    this.packageName = packageName;
  }
}

/** An optional peer dependency is installed in a version that cannot run on this Node.js. */
export class IncompatibleDependencyError extends OncelyError {
  /** The npm package to install, with the version range that works here (`better-sqlite3@13`). */
  readonly install: string;

  constructor(install: string, message: string, options?: ErrorOptions) {
    super("ONCELY_INCOMPATIBLE_DEPENDENCY", `${message}: run \`npm install ${install}\``, options);
    this.install = install;
  }
}

/** The backend could not be reached or failed to execute an operation. */
export class StoreUnavailableError extends OncelyError {
  constructor(message: string, options?: ErrorOptions) {
    super("ONCELY_STORE_UNAVAILABLE", message, options);
  }
}

/**
 * The store's server is a version that lacks a command the store relies on: the Redis store
 * needs Redis (or Valkey) 7.0 or later.
 */
export class UnsupportedServerError extends OncelyError {
  /** The version the server reported, when known. */
  readonly serverVersion: string | undefined;

  constructor(message: string, serverVersion?: string, options?: ErrorOptions) {
    super("ONCELY_UNSUPPORTED_SERVER", message, options);
    this.serverVersion = serverVersion;
  }
}

/** A stored record could not be decoded: it was written by something else or damaged. */
export class CorruptRecordError extends OncelyError {
  /** Scope and key of the damaged record. */
  readonly scope: string;
  readonly key: string;

  constructor(scope: string, key: string, reason: string, options?: ErrorOptions) {
    super("ONCELY_CORRUPT_RECORD", `stored record for key "${key}" is malformed: ${reason}`, options);
    this.scope = scope;
    this.key = key;
  }
}

/**
 * A stored record was encrypted under a key id that is not among the configured keys
 * (see `createStore(url, { encryption })`): the key was removed from the list too early.
 */
export class UnknownEncryptionKeyError extends OncelyError {
  /** Scope and key of the record, and the id of the key it was written under. */
  readonly scope: string;
  readonly key: string;
  readonly keyId: string;

  constructor(scope: string, key: string, keyId: string) {
    super(
      "ONCELY_UNKNOWN_ENCRYPTION_KEY",
      `stored record for key "${key}" is encrypted under key id "${keyId}", which is not configured`,
    );
    this.scope = scope;
    this.key = key;
    this.keyId = keyId;
  }
}

/**
 * A stored record of an encrypting store cannot be decrypted: it was altered, moved to
 * another scope or key, written under other key material with the same id, or written
 * unencrypted.
 */
export class DecryptionFailedError extends OncelyError {
  /** Scope and key of the record. */
  readonly scope: string;
  readonly key: string;

  constructor(scope: string, key: string, reason: string, options?: ErrorOptions) {
    super(
      "ONCELY_DECRYPTION_FAILED",
      `stored record for key "${key}" cannot be decrypted: ${reason}`,
      options,
    );
    this.scope = scope;
    this.key = key;
  }
}

/** The store was used after `close()`. */
export class StoreClosedError extends OncelyError {
  constructor() {
    super("ONCELY_STORE_CLOSED", "the store is closed");
  }
}

const UNREADABLE_RECORD_CODES: ReadonlySet<string> = new Set([
  "ONCELY_CORRUPT_RECORD",
  "ONCELY_UNKNOWN_ENCRYPTION_KEY",
  "ONCELY_DECRYPTION_FAILED",
]);

/**
 * True when the store answered but its record for the key cannot be read: damaged, or
 * encrypted under key material this process does not have.
 */
export function isUnreadableRecord(error: unknown): boolean {
  return isOncelyError(error) && UNREADABLE_RECORD_CODES.has(error.code);
}

/** True for any error thrown by oncely, even from another copy of the package. */
export function isOncelyError(value: unknown): value is OncelyError {
  return typeof value === "object" && value !== null && (value as { [brand]?: unknown })[brand] === true;
}

/** The client went away before its request body had been received whole, so nothing acted on it. */
export class ClientAbortedError extends OncelyError {
  constructor() {
    super("ONCELY_CLIENT_ABORTED", "the client closed the connection before its request body was complete");
  }
}

/** A streamed request body grew past `maxUploadBytes`; the client gets 413 and nothing of it counts. */
export class UploadTooLargeError extends OncelyError {
  constructor(readonly maxBytes: number) {
    super("ONCELY_UPLOAD_TOO_LARGE", `the request body exceeds the ${maxBytes}-byte upload cap`);
  }
}
