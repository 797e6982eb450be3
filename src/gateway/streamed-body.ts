import type { IncomingMessage } from "node:http";
import type { Writable } from "node:stream";
import type { BodyFingerprintHasher } from "../core/hashing.js";
import { UploadFingerprint } from "../http/upload-fingerprint.js";
import { ClientAbortedError } from "./errors.js";

/**
 * A request body too large to hold, read as it arrives: every chunk goes through the
 * fingerprint hasher and, while the upstream call is running, on to it — with the client's
 * pace held to the upstream's (backpressure), so memory stays bounded whatever the size.
 *
 * {@link fingerprint} resolves once the body has ended. Asked for while nobody forwards the
 * body (the key met a completed record, or the upstream has answered already), it reads
 * the rest and discards it. It rejects with {@link ClientAbortedError} when the client
 * leaves before the body's end, or `UploadTooLargeError` once the body passes
 * `maxBytes`; the upstream call, if any, is then cut with that error, so the upstream never
 * acts on half a body.
 */
export class StreamedBody {
  readonly #req: IncomingMessage;
  readonly #upload: UploadFingerprint;
  #failure: Error | undefined;
  #reading = false;
  #target: Writable | undefined;

  /** @param maxBytes the upload cap (`Infinity` for none) */
  constructor(req: IncomingMessage, hasher: BodyFingerprintHasher, maxBytes: number) {
    this.#req = req;
    // Asked for before the end: nobody forwards the body now (the key met a completed record,
    // or the upstream answered early and may read no more).
    this.#upload = new UploadFingerprint(hasher, maxBytes, () => {
      this.#target?.destroy();
      this.#target = undefined;
      this.#read();
    });
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
  readonly fingerprint = (): Promise<string> => this.#upload.fingerprint();

  #read(): void {
    if (this.#upload.done) return;
    if (!this.#reading) {
      this.#reading = true;
      this.#req.on("data", this.#onData);
      this.#req.once("end", this.#onEnd);
    }
    // The guard's look at the body (to see whether it was small) left the request paused.
    this.#req.resume();
  }

  readonly #onData = (chunk: Buffer): void => {
    const tooLarge = this.#upload.take(chunk);
    if (tooLarge) {
      this.#fail(tooLarge);
      return;
    }
    const target = this.#target;
    if (target && !target.write(chunk)) {
      this.#req.pause();
      target.once("drain", this.#resume);
    }
  };

  readonly #resume = (): void => {
    if (!this.#upload.done) this.#req.resume();
  };

  readonly #onEnd = (): void => {
    this.#stop();
    this.#target?.end();
    this.#upload.end();
  };

  readonly #onClose = (): void => {
    if (!this.#upload.done) this.#fail(new ClientAbortedError());
  };

  #fail(error: Error): void {
    this.#stop();
    this.#failure = error;
    this.#req.pause();
    this.#target?.destroy(error);
    this.#upload.fail(error);
  }

  #stop(): void {
    this.#req.off("data", this.#onData);
    this.#req.off("end", this.#onEnd);
    this.#req.off("close", this.#onClose);
    this.#req.off("error", this.#onClose);
  }
}
