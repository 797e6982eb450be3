/**
 * Errors of `oncely/events`. Each extends {@link OncelyError}, so `isOncelyError` and the
 * stable `code` work as everywhere else in oncely; docs/events.md lists every code.
 * @module
 */
import { OncelyError } from "../core/errors.js";

/** An event id or call key is not a non-empty string of at most 512 characters. */
export class InvalidEventIdError extends OncelyError {
  constructor(message: string) {
    super("ONCELY_INVALID_EVENT_ID", message);
  }
}

/**
 * `makeIdempotent`: the key was already used by a call with different arguments. The
 * stored result belongs to those other arguments, so it is not returned.
 */
export class ArgumentsMismatchError extends OncelyError {
  readonly scope: string;
  readonly key: string;

  constructor(scope: string, key: string) {
    super(
      "ONCELY_ARGUMENTS_MISMATCH",
      `key "${key}" was already used with different arguments; use another key, or set fingerprint: false`,
    );
    this.scope = scope;
    this.key = key;
  }
}

/** `makeIdempotent`: another call with the same key is still running (and the wait for it ran out). */
export class CallInProgressError extends OncelyError {
  readonly scope: string;
  readonly key: string;

  constructor(scope: string, key: string) {
    super("ONCELY_CALL_IN_PROGRESS", `a call with key "${key}" is still in progress; try again later`);
    this.scope = scope;
    this.key = key;
  }
}

/**
 * A handler's result (or, for the default fingerprint, a call's arguments) is not plain
 * JSON data, so a duplicate could not be given the same value back.
 */
export class NotSerializableError extends OncelyError {
  /** Where the offending value sits, e.g. `result.items[2].createdAt`. */
  readonly path: string;

  /**
   * @param problem what is wrong, e.g. `is a Date`
   * @param remedy what the caller can do about it
   */
  constructor(path: string, problem: string, remedy: string) {
    super("ONCELY_NOT_SERIALIZABLE", `${path} ${problem}, which JSON cannot carry unchanged; ${remedy}`);
    this.path = path;
  }
}

/**
 * The handler's lease lapsed and another execution took the event over (this process
 * was frozen or cut off from the store for longer than the lease). It is the abort
 * reason of the handler's `signal`: a handler that checks it before committing its side
 * effect never commits twice.
 */
export class LeaseLostError extends OncelyError {
  readonly scope: string;
  readonly key: string;

  constructor(scope: string, key: string) {
    super("ONCELY_LEASE_LOST", `the lease on "${key}" lapsed and another execution took it over`);
    this.scope = scope;
    this.key = key;
  }
}
