import type { IncomingMessage } from "node:http";
import type { Writable } from "node:stream";
import type { BodyFingerprintHasher } from "../core/hashing.js";
import { ClientAbortedError, UploadTooLargeError } from "./errors.js";

/**
 * A request body too large to hold, read as it arrives: every chunk goes through the
 * fingerprint hasher and, while the upstream call is running, on to it — with the client's
 * pace held to the upstream's (backpressure), so memory stays bounded whatever the size.
 *
 * {@link fingerprint} resolves once the body has ended. Asked for while nobody forwards the
 * body (the key met a completed record, or the upstream has answered already), it reads
 * the rest and discards it. It rejects with {@link ClientAbortedError} when the client
 * leaves before the body's end, or {@link UploadTooLargeError} once the body passes
 * `maxBytes`; the upstream call, if any, is then cut with that error, so the upstream never
 * acts on half a body.
 */
export class StreamedBody {
  readonly #req: IncomingMessage;
  readonly #hasher: BodyFingerprintHasher;
  readonly #maxBytes: number;
  readonly #settled: Promise<string>;
  #resolve!: (fingerprint: string) => void;
  #reject!: (error: Error) => void;
  #failure: Error | undefined;
  #done = false;
  #reading = false;
  #bytes = 0;
  #target: Writable | undefined;

  /** @param maxBytes the upload cap (`Infinity` for none) */
  constructor(req: IncomingMessage, hasher: BodyFingerprintHasher, maxBytes: number) {
    this.#req = req;
    this.#hasher = hasher;
    this.#maxBytes = maxBytes;
    this.#settled = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Nobody may ask (a 409 leaves the body unread); whoever asks sees the rejection.
    this.#settled.catch(() => {});
    // Listened to from the start: a client may leave while the key is being claimed.
    req.once("close", this.#onClose);
    req.once("error", this.#onClose);
  }

  /**
   * Sends the body to `target` as it arrives and ends it with the body, or destroys it with
   * the failure (at once when the body has failed already).
   */
  forwardTo(target: Writable): void {
    if (this.#failure) {
      target.destroy(this.#failure);
      return;
    }
    this.#target = target;
    this.#read();
  }

  /** The request's fingerprint once its body has ended; see the class. */
  readonly fingerprint = (): Promise<string> => {
    if (!this.#done) {
      // Asked before the end while forwarding: the upstream answered early and may read no more.
      this.#target?.destroy();
      this.#target = undefined;
      this.#read();
    }
    return this.#settled;
  };

  #read(): void {
    if (this.#done) return;
    if (!this.#reading) {
      this.#reading = true;
      this.#req.on("data", this.#onData);
      this.#req.once("end", this.#onEnd);
    }
    // The guard's look at the body (to see whether it was small) left the request paused.
    this.#req.resume();
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#bytes += chunk.length;
    if (this.#bytes > this.#maxBytes) {
      this.#fail(new UploadTooLargeError(this.#maxBytes));
      return;
    }
    this.#hasher.update(chunk);
    const target = this.#target;
    if (target && !target.write(chunk)) {
      this.#req.pause();
      target.once("drain", this.#resume);
    }
  };

  readonly #resume = (): void => {
    if (!this.#done) this.#req.resume();
  };

  readonly #onEnd = (): void => {
    this.#stop();
    this.#target?.end();
    this.#resolve(this.#hasher.digest());
  };

  readonly #onClose = (): void => {
    if (!this.#done) this.#fail(new ClientAbortedError());
  };

  #fail(error: Error): void {
    this.#stop();
    this.#failure = error;
    this.#req.pause();
    this.#target?.destroy(error);
    this.#reject(error);
  }

  #stop(): void {
    this.#done = true;
    this.#req.off("data", this.#onData);
    this.#req.off("end", this.#onEnd);
    this.#req.off("close", this.#onClose);
    this.#req.off("error", this.#onClose);
  }
}
