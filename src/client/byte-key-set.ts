/**
 * A set of keys that stay inside the journal's bytes.
 *
 * Why not a `Set<string>`: loading 10^6 keys that way makes 10^6 strings and rehashes a
 * growing table, which alone takes most of a second on a busy machine. Here a key is an
 * offset into the file's bytes and a slot in a flat hash table sized once, so resuming a
 * journal of 10^6 entries takes a small fraction of a second.
 * @module
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Keys of printable ASCII without `"` or `\`: their JSON line is the key between quotes. */
function isPlainByte(byte: number): boolean {
  return byte >= 0x20 && byte <= 0x7e && byte !== QUOTE && byte !== BACKSLASH;
}

/** FNV-1a of a string's char codes, equal to {@link hashBytes} of its bytes for plain keys. */
function hashString(key: string): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), FNV_PRIME);
  return hash;
}

/**
 * FNV-1a of `bytes[start, end)`, or -1 when a byte is not plain.
 * One pass both checks and hashes, since this runs over every byte of a resumed journal.
 */
export function hashPlainBytes(bytes: Uint8Array, start: number, end: number): number {
  let hash = FNV_OFFSET;
  for (let i = start; i < end; i++) {
    const byte = bytes[i] as number;
    if (!isPlainByte(byte)) return -1;
    hash = Math.imul(hash ^ byte, FNV_PRIME);
  }
  return hash >>> 1; // non-negative, so that -1 stays free to mean "not plain"
}

/** Holds plain keys as `[start, end)` ranges of one buffer; lookups hash and compare bytes. */
export class ByteKeySet {
  readonly #bytes: Buffer;
  readonly #starts: Uint32Array;
  readonly #lengths: Uint32Array;
  readonly #hashes: Int32Array;
  /** Slot → entry index + 1; 0 is empty. Linear probing, at most half full. */
  readonly #slots: Int32Array;
  readonly #mask: number;
  #size = 0;

  /** @param capacity the most keys that will be inserted */
  constructor(bytes: Buffer, capacity: number) {
    this.#bytes = bytes;
    this.#starts = new Uint32Array(capacity);
    this.#lengths = new Uint32Array(capacity);
    this.#hashes = new Int32Array(capacity);
    let slots = 16;
    while (slots < capacity * 2) slots *= 2;
    this.#slots = new Int32Array(slots);
    this.#mask = slots - 1;
  }

  get size(): number {
    return this.#size;
  }

  /**
   * Adds the plain key held in `bytes[start, end)`.
   * @param hash its {@link hashPlainBytes}
   * @returns false when the key was already present
   */
  insert(start: number, end: number, hash: number): boolean {
    const length = end - start;
    for (let slot = hash & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const entry = (this.#slots[slot] as number) - 1;
      if (entry < 0) {
        this.#starts[this.#size] = start;
        this.#lengths[this.#size] = length;
        this.#hashes[this.#size] = hash;
        this.#slots[slot] = ++this.#size;
        return true;
      }
      if (this.#hashes[entry] === hash && this.#lengths[entry] === length && this.#equals(entry, start))
        return false;
    }
  }

  has(key: string): boolean {
    const hash = hashString(key) >>> 1;
    for (let slot = hash & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const entry = (this.#slots[slot] as number) - 1;
      if (entry < 0) return false;
      if (this.#hashes[entry] === hash && this.#lengths[entry] === key.length && this.#key(entry) === key)
        return true;
    }
  }

  #equals(entry: number, start: number): boolean {
    const bytes = this.#bytes;
    const other = this.#starts[entry] as number;
    const length = this.#lengths[entry] as number;
    for (let i = 0; i < length; i++) if (bytes[start + i] !== bytes[other + i]) return false;
    return true;
  }

  #key(entry: number): string {
    const start = this.#starts[entry] as number;
    return this.#bytes.toString("latin1", start, start + (this.#lengths[entry] as number));
  }

  *[Symbol.iterator](): IterableIterator<string> {
    for (let entry = 0; entry < this.#size; entry++) yield this.#key(entry);
  }
}
