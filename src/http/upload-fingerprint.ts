/**
 * The fingerprint of a request body that streams on to its reader (the handler, a body
 * parser) while it is hashed: the part every streaming path of the adapters shares.
 * Runtime-neutral.
 * @module
 */
import { UploadTooLargeError } from "../core/errors.js";
import type { BodyFingerprintHasher } from "../core/hashing.js";
import type { ResolvedOptions } from "../core/options.js";
import { type ProblemResponse, problem } from "../core/problems.js";

/**
 * Hashes the body piece by piece as its reader receives it, never holding it, and settles
 * the fingerprint at its end. The source tells it every piece ({@link take}), the end
 * ({@link end}) or a failure ({@link fail}); the engine asks for {@link fingerprint}.
 */
export class UploadFingerprint {
  readonly #hasher: BodyFingerprintHasher;
  readonly #maxBytes: number;
  readonly #drain: () => void;
  readonly #settled: Promise<string>;
  #resolve!: (fingerprint: string) => void;
  #reject!: (error: Error) => void;
  #bytes = 0;
  #done = false;

  /**
   * @param maxBytes the upload cap (`maxUploadBytes`; `Infinity` for none)
   * @param drain reads the rest of the body, discarding it, when the fingerprint is asked
   *   for before the end: nobody reads it then (a completed record answers the request), or
   *   the handler has answered without reading it all
   */
  constructor(hasher: BodyFingerprintHasher, maxBytes: number, drain: () => void) {
    this.#hasher = hasher;
    this.#maxBytes = maxBytes;
    this.#drain = drain;
    this.#settled = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Nobody may ask (a 409 leaves the body unread); whoever asks sees the rejection.
    this.#settled.catch(() => {});
  }

  /** Whether the body has ended or failed. */
  get done(): boolean {
    return this.#done;
  }

  /**
   * Hashes the next piece. Returns the error when it takes the body past the cap (the
   * fingerprint then rejects with it, and the source must cut the body off).
   */
  take(chunk: Uint8Array): UploadTooLargeError | undefined {
    if (this.#done) return undefined;
    this.#bytes += chunk.length;
    if (this.#bytes > this.#maxBytes) {
      const error = new UploadTooLargeError(this.#maxBytes);
      this.fail(error);
      return error;
    }
    this.#hasher.update(chunk);
    return undefined;
  }

  /** The body ended: the fingerprint settles. */
  end(): void {
    if (this.#done) return;
    this.#done = true;
    this.#resolve(this.#hasher.digest());
  }

  /** The body broke off (the client left, or it outgrew the cap): the fingerprint rejects. */
  fail(error: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#reject(error);
  }

  /** The fingerprint once the body has ended (the rest is read first if need be); see the class. */
  readonly fingerprint = (): Promise<string> => {
    this.discardRest();
    return this.#settled;
  };

  /**
   * Reads the rest of the body and discards it (hashing it all the same): oncely answered
   * the request itself (a 409), so nobody else will, and an unread body would hold up the
   * connection.
   */
  discardRest(): void {
    if (!this.#done) this.#drain();
  }
}

/** Whether a body that announces `declaredLength` (a `Content-Length` value, or null) is over `maxBytes`. */
export function announcesTooMuch(declaredLength: string | null | undefined, maxBytes: number): boolean {
  return declaredLength !== null && declaredLength !== undefined && Number(declaredLength) > maxBytes;
}

/**
 * The 413 for a body over `maxUploadBytes`. The connection closes, so the unread rest of
 * the body is never read.
 */
export function uploadTooLarge(
  options: Pick<ResolvedOptions, "maxUploadBytes" | "errorFormat">,
): ProblemResponse {
  const detail = `the request body exceeds the ${options.maxUploadBytes}-byte upload cap`;
  return problem("request-too-large", detail, undefined, [["connection", "close"]], options.errorFormat);
}
