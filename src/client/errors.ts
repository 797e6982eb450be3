/**
 * Errors of `oncely/client`. Each extends {@link OncelyError}, so `isOncelyError()` and the
 * stable `code` work for client failures as they do for the server side.
 * @module
 */
import { OncelyError } from "../core/errors.js";

/**
 * `idempotentFetch` got no response at all: every attempt failed at the network level, or
 * the total time budget ran out. A final HTTP error status is never thrown; it is returned.
 */
export class FetchFailedError extends OncelyError {
  /** The idempotency key every attempt carried; retry later with the same key. */
  readonly key: string;
  /** How many attempts were started. */
  readonly attempts: number;

  constructor(target: string, key: string, attempts: number, reason: string, options?: ErrorOptions) {
    super(
      "ONCELY_FETCH_FAILED",
      `${target}: ${reason} (${attempts} attempt${attempts === 1 ? "" : "s"})`,
      options,
    );
    this.key = key;
    this.attempts = attempts;
  }
}

/**
 * A response with an error status, raised by batch workers (`oncely push` uses it) so the
 * item is reported as failed with the server's own words.
 */
export class HttpStatusError extends OncelyError {
  /** The HTTP status of the final response. */
  readonly status: number;

  /** @param detail the `detail` or `title` of a problem+json body, or the start of a text body */
  constructor(status: number, detail: string, options?: ErrorOptions) {
    super(
      "ONCELY_HTTP_STATUS",
      detail ? `server answered ${status}: ${detail}` : `server answered ${status}`,
      options,
    );
    this.status = status;
  }
}

/** A checkpoint journal file is damaged in the middle, or is not a journal at all. */
export class CorruptJournalError extends OncelyError {
  /** The journal file. */
  readonly path: string;
  /** The 1-based line that could not be read. */
  readonly line: number;

  constructor(path: string, line: number, reason: string) {
    super("ONCELY_CORRUPT_JOURNAL", `${path}:${line}: ${reason}; move the file away to start afresh`);
    this.path = path;
    this.line = line;
  }
}

/** A checkpoint was used after `close()`. */
export class CheckpointClosedError extends OncelyError {
  constructor() {
    super("ONCELY_CHECKPOINT_CLOSED", "the checkpoint is closed");
  }
}
