/**
 * Passing a handler's streamed response body on while the execution stores it: shared by
 * the fetch layer and the adapters whose frameworks send streams (Fastify). Runtime-neutral.
 * @module
 */
import type { Execution } from "../core/execution.js";

/**
 * Reads a response body chunk by chunk for the client, writing every chunk to the
 * execution first, at the pace of the slower of the two. Reads are serialised, so chunks
 * reach the store in order even when the client leaves while one is being read; from then
 * on the rest of the body is still read and stored, as it would have been sent.
 */
export class BodyTap {
  readonly #source: AsyncIterator<Uint8Array>;
  readonly #execution: Execution;
  #reading: Promise<unknown> = Promise.resolve();
  #ended = false;
  #abandoned = false;

  /** @param clientGone tells whether the client went away before the end (e.g. an aborted signal) */
  constructor(source: AsyncIterator<Uint8Array>, execution: Execution, clientGone: () => boolean) {
    this.#source = source;
    this.#execution = execution;
    const tap = this;
    execution.watchClient({
      get abandoned() {
        return !tap.#ended && (tap.#abandoned || clientGone());
      },
    });
  }

  /**
   * The next chunk for the client, undefined at the end (the execution is then finished).
   * Rejects with the source's error, once the execution has released the key.
   */
  next(): Promise<Uint8Array | undefined> {
    const read = this.#reading.then(() => this.#read());
    this.#reading = read.catch(() => {});
    return read;
  }

  /** The client left: the rest of the body is read and stored in the background. */
  abandon(): void {
    if (this.#ended || this.#abandoned) return;
    this.#abandoned = true;
    void (async () => {
      while ((await this.next()) !== undefined);
    })().catch(() => {});
  }

  async #read(): Promise<Uint8Array | undefined> {
    if (this.#ended) return undefined;
    let result: IteratorResult<Uint8Array>;
    try {
      result = await this.#source.next();
    } catch (error) {
      this.#ended = true;
      await this.#execution.fail();
      throw error;
    }
    if (result.done) {
      this.#ended = true;
      await this.#execution.finish();
      return undefined;
    }
    const chunk = result.value;
    if (!this.#execution.write(chunk)) {
      await new Promise<void>((resolve) => this.#execution.onDrain(resolve));
    }
    return chunk;
  }
}
