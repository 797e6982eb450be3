/**
 * The live keys of a journal: those loaded from the file, minus the ones forgotten since,
 * plus the ones added since (or loaded from lines that are not plain).
 * @module
 */
import { ByteKeySet } from "./byte-key-set.js";

/** A key set whose bulk stays in the journal's bytes; see {@link ByteKeySet} for why. */
export class JournalKeys implements Iterable<string> {
  readonly #bytes: Buffer;
  readonly #loaded: ByteKeySet;
  readonly #added = new Set<string>();
  /** Loaded keys forgotten since; always a subset of `#loaded`. */
  readonly #removed = new Set<string>();

  /** @param capacity the most plain lines that {@link load} will be given */
  constructor(bytes: Buffer, capacity: number) {
    this.#bytes = bytes;
    this.#loaded = new ByteKeySet(bytes, capacity);
  }

  get size(): number {
    return this.#loaded.size - this.#removed.size + this.#added.size;
  }

  has(key: string): boolean {
    return this.#added.has(key) || (this.#loaded.has(key) && !this.#removed.has(key));
  }

  /** Adds the plain key held in `bytes[start, end)`, of hash `hash`, while the file is read. */
  load(start: number, end: number, hash: number): void {
    // A key forgotten earlier in the file and recorded again is live once more.
    if (!this.#loaded.insert(start, end, hash) && this.#removed.size > 0) {
      this.#removed.delete(this.#bytes.toString("latin1", start, end));
    }
  }

  /** @returns false when the key was already live */
  add(key: string): boolean {
    if (this.has(key)) return false;
    if (this.#loaded.has(key)) this.#removed.delete(key);
    else this.#added.add(key);
    return true;
  }

  /** @returns false when the key was not live */
  delete(key: string): boolean {
    if (!this.has(key)) return false;
    if (!this.#added.delete(key)) this.#removed.add(key);
    return true;
  }

  *[Symbol.iterator](): IterableIterator<string> {
    for (const key of this.#loaded) if (!this.#removed.has(key)) yield key;
    yield* this.#added;
  }
}
