/**
 * The framework-free view of a request that adapters hand to the engine.
 * @module
 */

/** What the engine needs to know about a request. Adapters build it from their framework's request. */
export interface IncomingRequest {
  /** Upper-case method, e.g. `POST`. */
  readonly method: string;
  /** Path with query string, as sent (`/orders?x=1`). */
  readonly path: string;
  /**
   * Every field value of a header, one entry per header line, in order; empty when absent.
   * The name is lower case. Adapters must not join repeated lines: a key sent twice is invalid.
   */
  header(name: string): readonly string[];
  /** Raw body bytes; present when the engine asked for them (see `Engine.needsBody`). */
  readonly body?: Uint8Array;
  /**
   * Instead of `body`, for a body too large to hold that the adapter streams to the handler
   * (only where `Engine.streamsBody` allows): resolves with the request's fingerprint once
   * the body has been read to its end through a hasher from `Engine.bodyHasher` — reading
   * and discarding the rest when it is not being handed on — and rejects when the body broke
   * off (the client left) or grew past the adapter's cap. The engine calls it when it needs
   * the fingerprint: before answering from a completed record, and before completing one.
   */
  readonly bodyFingerprint?: () => Promise<string>;
}
