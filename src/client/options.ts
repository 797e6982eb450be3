/**
 * Options of `idempotentFetch`, with their defaults, checked and normalised in one place.
 * @module
 */
import { InvalidOptionError } from "../core/errors.js";

/** What `onRetry` hears before each wait. */
export interface RetryEvent {
  /** The key every attempt carries. */
  readonly key: string;
  /** The attempt that just failed, from 1. */
  readonly attempt: number;
  /** Milliseconds until the next attempt starts. */
  readonly delay: number;
  /** Why it is retried: the status of a retryable answer… */
  readonly status?: number;
  /** …or the network error. */
  readonly error?: unknown;
}

/** Options of {@link idempotentFetch}. Durations are milliseconds. */
export interface IdempotentFetchOptions {
  /**
   * The idempotency key sent with every attempt.
   * @default the key header already in `init.headers`, else a new `randomKey()` made once per call
   */
  key?: string;
  /** Request header that carries the key. @default "Idempotency-Key" */
  header?: string;
  /** Most attempts, the first one included; 1 disables retries. @default 5 */
  attempts?: number;
  /**
   * Time budget for the whole call: attempts and the waits between them. An attempt still
   * running when it ends is aborted, and a wait (even one asked by `Retry-After`) that would
   * end past it is not started. `Infinity` lets only `attempts` bound the call.
   * @default 60_000
   */
  timeout?: number;
  /**
   * Bound of the first backoff. The bound doubles after each failed attempt, and the actual
   * wait is drawn uniformly between 0 and the bound ("full jitter"), so that clients that
   * failed together do not retry together.
   * @default 250
   */
  backoff?: number;
  /** Largest backoff bound. @default 10_000 */
  maxBackoff?: number;
  /**
   * Which answers are retried. Other statuses, including every other 4xx, are returned at once.
   * @default 5xx, 409 (the same key is still in flight) and 429
   */
  retryOn?: (status: number) => boolean;
  /** Response header by which the server marks a replayed answer. @default "X-Idempotency-Replayed" */
  replayHeader?: string;
  /** Called before each wait, for logging and metrics. @default undefined */
  onRetry?: (event: RetryEvent) => void;
}

/** {@link IdempotentFetchOptions} with every default applied, except the per-call key. */
export interface ResolvedFetchOptions {
  readonly header: string;
  readonly attempts: number;
  readonly timeout: number;
  readonly backoff: number;
  readonly maxBackoff: number;
  readonly retryOn: (status: number) => boolean;
  /** Lower-cased. */
  readonly replayHeader: string;
  readonly onRetry: ((event: RetryEvent) => void) | undefined;
}

/**
 * The default `retryOn`: server errors, 409 (RFC draft: the original request with this key
 * is still being processed; oncely's `request-in-progress` problem) and 429.
 */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 409 || status === 429;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function checkDuration(name: string, value: number, allowInfinity: boolean): number {
  if (Number.isNaN(value) || value < 0 || (!allowInfinity && !Number.isFinite(value))) {
    throw new InvalidOptionError(`${name} must be a non-negative number of milliseconds, got ${value}`);
  }
  return value;
}

/** Applies the defaults and checks every value once, before the first attempt. */
export function resolveFetchOptions(options: IdempotentFetchOptions): ResolvedFetchOptions {
  const {
    header = "Idempotency-Key",
    attempts = 5,
    timeout = 60_000,
    backoff = 250,
    maxBackoff = 10_000,
    retryOn = isRetryableStatus,
    replayHeader = "X-Idempotency-Replayed",
    onRetry,
  } = options;
  if (!TOKEN.test(header)) throw new InvalidOptionError(`header "${header}" is not a valid header name`);
  if (!TOKEN.test(replayHeader))
    throw new InvalidOptionError(`replayHeader "${replayHeader}" is not a valid header name`);
  if (!Number.isSafeInteger(attempts) || attempts < 1) {
    throw new InvalidOptionError(`attempts must be a positive integer, got ${attempts}`);
  }
  if (maxBackoff < backoff) throw new InvalidOptionError("maxBackoff must be at least backoff");
  return {
    header,
    attempts,
    timeout: checkDuration("timeout", timeout, true),
    backoff: checkDuration("backoff", backoff, false),
    maxBackoff: checkDuration("maxBackoff", maxBackoff, false),
    retryOn,
    replayHeader: replayHeader.toLowerCase(),
    onRetry,
  };
}
