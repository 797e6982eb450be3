import type { HeaderPair, IdempotencyStore, Lease } from "../store.js";
import { emit, type KeyEvent, type ReleaseReason } from "./hooks.js";
import { LeaseRenewal } from "./lease-renewal.js";
import type { ResolvedOptions } from "./options.js";
import { storableHeaders, storeDeclined } from "./response-headers.js";

/**
 * How the adapter must deliver the response it is about to send:
 * - `store-first`: its length is known and small — write the whole body, await
 *   {@link Execution.finish}, then send, so a crash in between never loses the record;
 * - `stream`: send as the handler writes, passing every chunk to {@link Execution.write};
 * - `pass`: the status is not stored (the key was released) — send untouched.
 */
export type ResponsePlan = "store-first" | "stream" | "pass";

type Phase = "running" | "capturing" | "done";

/**
 * One guarded execution: it owns the key's lease (and renews it while the handler runs),
 * captures the response the handler produces, and stores or releases it at the end.
 *
 * Memory stays bounded: the body is written to the store in chunks as it streams, and
 * writes report backpressure when the store falls behind.
 */
export class Execution {
  readonly #options: ResolvedOptions;
  readonly #store: IdempotencyStore;
  readonly #lease: Lease;
  readonly #event: KeyEvent;
  /** For the `onExecuted` hook's duration; read from the clock only when that hook is set. */
  readonly #startedAt: number;
  readonly #renewal: LeaseRenewal;
  #phase: Phase = "running";
  #status = 0;
  #headers: readonly HeaderPair[] = [];
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #totalBytes = 0;
  #chunksWritten = 0;
  #omitted = false;
  /** The chain of chunk writes; none for a body that fits in the final one. */
  #appends: Promise<void> | undefined;
  #backlogBytes = 0;
  #drainListeners: Array<() => void> = [];
  #lost = false;
  #storeError: unknown;
  /** Whether the response was stored, once the execution has ended. */
  #stored: boolean | undefined;
  #endListener: ((stored: boolean) => void) | undefined;
  /** The request's fingerprint when its body was still arriving at the claim; see `IncomingRequest.bodyFingerprint`. */
  readonly #bodyFingerprint: (() => Promise<string>) | undefined;

  /** @internal Created by the engine when a claim is acquired. */
  constructor(
    options: ResolvedOptions,
    lease: Lease,
    event: KeyEvent,
    bodyFingerprint?: () => Promise<string>,
  ) {
    this.#options = options;
    this.#bodyFingerprint = bodyFingerprint;
    this.#store = options.store;
    this.#lease = lease;
    this.#event = event;
    this.#startedAt = options.hooks.onExecuted ? performance.now() : 0;
    this.#renewal = new LeaseRenewal(this.#store, lease, options.lease, {
      onLost: () => {
        this.#lost = true;
      },
      onError: (error) => this.#reportStoreError("renew", error),
    });
  }

  /** The `storeHeader` (lower-cased): the adapter removes it from the response before sending. */
  get storeHeader(): string {
    return this.#options.storeHeader;
  }

  /** The key and scope this execution owns. */
  get lease(): Lease {
    return this.#lease;
  }

  /**
   * Declares the final status and headers, before the first body byte is sent. The plan
   * comes back at once, except when the answer is not stored (its status, or the handler's
   * `storeHeader: no`; the adapter removes that header before sending): the key is then released
   * first, and the promise of `pass` settles after that, so that a client retrying on
   * this answer never finds the key still held. Never throws: a `shouldStore` that throws
   * makes the promise reject, and the response must then not be sent.
   * @param contentLength the body length when it is known up front
   */
  respond(
    status: number,
    headers: readonly HeaderPair[],
    contentLength: number | undefined,
  ): ResponsePlan | Promise<"pass"> {
    if (this.#phase !== "running") return "pass";
    this.#status = status;
    if (storeDeclined(headers, this.#options)) return this.#release("declined").then(() => "pass");
    let stored: boolean;
    try {
      stored = this.#options.shouldStore(status);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!stored) return this.#release("status").then(() => "pass");
    this.#phase = "capturing";
    this.#headers = storableHeaders(headers, this.#options);
    return contentLength !== undefined && contentLength <= this.#options.storeBeforeSendBytes
      ? "store-first"
      : "stream";
  }

  /**
   * Captures body bytes. Returns false when the store is behind; wait for {@link onDrain}
   * before writing more to keep memory bounded.
   */
  write(chunk: Uint8Array): boolean {
    if (this.#phase !== "capturing" || this.#omitted || chunk.length === 0) return true;
    this.#totalBytes += chunk.length;
    if (this.#totalBytes > this.#options.maxBodyBytes) {
      // Too large to keep: the key stays completed, the body is dropped (see docs).
      this.#omitted = true;
      this.#pending = [];
      this.#pendingBytes = 0;
      return true;
    }
    // Copied: the caller may reuse its buffer once write() returns.
    this.#pending.push(Buffer.from(chunk));
    this.#pendingBytes += chunk.length;
    // Strictly greater: the last chunk is always held back so that `complete` carries it.
    while (this.#pendingBytes > this.#options.chunkBytes)
      this.#flushChunk(this.#cutChunk(this.#options.chunkBytes));
    return this.#backlogBytes < 2 * this.#options.chunkBytes;
  }

  /** Runs `listener` once the store has caught up after {@link write} returned false. */
  onDrain(listener: () => void): void {
    if (this.#backlogBytes < 2 * this.#options.chunkBytes) listener();
    else this.#drainListeners.push(listener);
  }

  /**
   * Ends the execution: stores the captured response. Never rejects: store failures go to
   * the `onStoreError` hook, because the handler has already run and its response must
   * still reach the client. When storing fails the key is not released: the handler ran,
   * so a retry must not run it again at once. The key stays in flight until its lease
   * lapses, as after a crash, and retries get 409 meanwhile.
   *
   * When the claim was made while the request body was still arriving, the record waits for
   * the body's fingerprint; a body that broke off (the client left, or it outgrew the cap)
   * releases the key instead: the request was never whole, so a retry executes again.
   */
  async finish(): Promise<void> {
    if (this.#phase !== "capturing") return;
    this.#phase = "done";
    if (this.#appends) await this.#appends;
    let fingerprint: string | undefined;
    if (this.#bodyFingerprint) {
      try {
        fingerprint = await this.#bodyFingerprint();
      } catch {
        return this.#release("error");
      }
    }
    const stored = await this.#complete(fingerprint);
    this.#renewal.stop();
    if (this.#storeError !== undefined) this.#reportStoreError("complete", this.#storeError);
    this.#emitExecuted(stored);
  }

  /** Stores the captured response; false when it was not stored (the lease was lost, or the store failed). */
  async #complete(fingerprint: string | undefined): Promise<boolean> {
    if (this.#storeError !== undefined || this.#lost) return false;
    const finalChunk = this.#omitted ? Buffer.alloc(0) : this.#cutChunk(this.#pendingBytes);
    const chunkCount = this.#omitted ? 0 : this.#chunksWritten + (finalChunk.length > 0 ? 1 : 0);
    try {
      return await this.#store.complete(this.#lease, {
        response: {
          status: this.#status,
          headers: this.#headers,
          bodyLength: this.#omitted ? 0 : this.#totalBytes,
          chunkCount,
          bodyOmitted: this.#omitted,
        },
        finalChunk,
        ttlMs: this.#options.ttl,
        ...(fingerprint === undefined ? {} : { fingerprint }),
      });
    } catch (error) {
      this.#storeError = error;
      return false;
    }
  }

  /** The handler failed (threw, or its framework answered with an error): release the key. */
  async fail(): Promise<void> {
    if (this.#phase === "done") return;
    if (this.#status === 0) this.#status = 500;
    await this.#release("error");
  }

  /**
   * The client left before the handler started, and its body went with it: running the
   * handler would act on a request it cannot read. Releases the key (reason
   * `client-left`), so the retry executes with its body.
   */
  async clientLeft(): Promise<void> {
    if (this.#phase !== "running") return;
    await this.#release("client-left");
  }

  /**
   * Calls `listener` once, when the execution has ended: with true when its response was
   * stored, with false when the key was released or storing failed (at once, if it has
   * ended already). What the `onExecuted` hook reports, for this request alone: a caller
   * that logs or counts each request learns it here, whatever the hooks do.
   */
  onEnded(listener: (stored: boolean) => void): void {
    if (this.#stored === undefined) this.#endListener = listener;
    else listener(this.#stored);
  }

  /**
   * Watches the client: once `client.abandoned` is true (it went away before the response
   * ended) the handler may still finish and its response is still stored, so the lease is
   * kept alive — but only for one more lease period, so that a handler that gave up
   * without ending never pins the key. Looked at before each renewal (every third of a
   * lease), rather than told by a `close` listener that would cost every request.
   */
  watchClient(client: { readonly abandoned: boolean }): void {
    this.#renewal.watch(client);
  }

  async #release(reason: ReleaseReason): Promise<void> {
    this.#phase = "done";
    if (this.#appends) await this.#appends;
    this.#renewal.stop();
    await this.#tryRelease(reason);
    this.#emitExecuted(false);
  }

  async #tryRelease(reason: ReleaseReason): Promise<void> {
    if (this.#lost) return;
    try {
      await this.#store.release(this.#lease);
    } catch (error) {
      // The lease lapses by itself; until then retries get 409, never a second execution.
      this.#reportStoreError("release", error);
    }
    emit(this.#options.hooks.onReleased, {
      ...this.#event,
      reason,
      ...(this.#status ? { status: this.#status } : {}),
    });
  }

  #cutChunk(size: number): Buffer {
    const all = this.#pending.length === 1 ? (this.#pending[0] as Buffer) : Buffer.concat(this.#pending);
    if (size >= all.length) {
      this.#pending = [];
      this.#pendingBytes = 0;
      return all;
    }
    const rest = all.subarray(size);
    this.#pending = [rest];
    this.#pendingBytes = rest.length;
    return all.subarray(0, size);
  }

  #flushChunk(data: Buffer): void {
    const index = this.#chunksWritten++;
    this.#backlogBytes += data.length;
    this.#appends = (this.#appends ?? Promise.resolve()).then(async () => {
      try {
        if (this.#storeError === undefined && !this.#lost) {
          this.#lost = !(await this.#store.appendChunk(this.#lease, index, data));
        }
      } catch (error) {
        this.#storeError = error;
      } finally {
        this.#backlogBytes -= data.length;
        if (this.#backlogBytes < 2 * this.#options.chunkBytes) {
          const listeners = this.#drainListeners;
          this.#drainListeners = [];
          for (const listener of listeners) listener();
        }
      }
    });
  }

  #reportStoreError(operation: string, error: unknown): void {
    emit(this.#options.hooks.onStoreError, {
      scope: this.#event.scope,
      key: this.#event.key,
      method: this.#event.method,
      path: this.#event.path,
      operation,
      error,
      failedOpen: false,
    });
  }

  #emitExecuted(stored: boolean): void {
    this.#stored = stored;
    this.#endListener?.(stored);
    // Every guarded request passes here: build no event nobody listens to.
    if (!this.#options.hooks.onExecuted) return;
    emit(this.#options.hooks.onExecuted, {
      ...this.#event,
      status: this.#status,
      stored,
      durationMs: performance.now() - this.#startedAt,
    });
  }
}
