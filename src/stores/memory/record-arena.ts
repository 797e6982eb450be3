/**
 * Room for the memory store's packed records outside the JavaScript heap.
 *
 * Why: the memory store keeps every completed record for its TTL (24 h by default), so a
 * busy process holds hundreds of thousands of them. Kept as a buffer each, every record is
 * a heap object that each young collection copies and each full collection marks. Here
 * the records are carved from a few large slabs whose bytes the collector never looks at,
 * and the store's map holds a slot number per record, which it does not visit either.
 *
 * Records are written one after the other into the current slab; each is preceded by its
 * slot and its length, so that a slab can be walked. A slab is dropped when its last
 * record is freed. Records of one TTL expire in the order they were written, so slabs
 * empty whole; {@link RecordArena.compact} moves the live records out of slabs that mixed
 * TTLs left mostly empty, which bounds memory to about four times the live bytes plus a slab.
 *
 * @module
 */

/** How large a slab is, unless a record needs more. */
export const DEFAULT_SLAB_BYTES = 1 << 20;

/** Slot and length, in front of every record in a slab. */
const HEADER_BYTES = 8;

/** A slab in use by fewer live bytes than this share of its size is compacted. */
const COMPACT_BELOW = 0.25;

/** Byte arrays kept in large slabs, each known by a small integer (its slot) while it lives. */
export class RecordArena {
  readonly #slabBytes: number;
  /** Slabs by id; an id whose slab was dropped holds undefined until it is reused. */
  readonly #slabs: Array<Buffer | undefined> = [];
  /** Bytes of live records (with their headers) in each slab, by slab id. */
  readonly #liveBytes: number[] = [];
  readonly #freeSlabIds: number[] = [];
  /** The slab new records go to, and how much of it is used; -1 before the first. */
  #current = -1;
  #used = 0;
  // Where each slot's record is: typed arrays, so that a million records are three objects.
  #slabOf = new Int32Array(1024);
  #startOf = new Int32Array(1024);
  #lengthOf = new Int32Array(1024);
  /** Slots handed out so far, freed or not; freed ones are reused first. */
  #slotCount = 0;
  readonly #freeSlots: number[] = [];

  /** @param [slabBytes=1048576] the size of a slab; a record larger than a quarter of it gets a slab of its own */
  constructor(slabBytes = DEFAULT_SLAB_BYTES) {
    this.#slabBytes = slabBytes;
  }

  /** Makes room for `length` bytes and returns their slot; write them through {@link bytes}. */
  allocate(length: number): number {
    const slot = this.#freeSlots.pop() ?? this.#newSlot();
    this.#place(slot, length);
    return slot;
  }

  /** The bytes of a live slot, as a view into its slab: valid until the next allocate, free or compact. */
  bytes(slot: number): Buffer {
    const start = this.#startOf[slot] as number;
    return (this.#slabs[this.#slabOf[slot] as number] as Buffer).subarray(
      start,
      start + (this.#lengthOf[slot] as number),
    );
  }

  /** Frees a live slot; the slot number may be handed out again. */
  free(slot: number): void {
    const slabId = this.#slabOf[slot] as number;
    this.#slabOf[slot] = -1;
    this.#freeSlots.push(slot);
    const live = (this.#liveBytes[slabId] as number) - HEADER_BYTES - (this.#lengthOf[slot] as number);
    this.#liveBytes[slabId] = live;
    if (live === 0 && slabId !== this.#current) this.#drop(slabId);
  }

  /**
   * Moves the records of every slab that is less than a quarter live into fresh slabs, and
   * drops the slabs they leave. Run after a purge: slabs that a purge empties are dropped
   * at once, so what is left to move is what other TTLs kept alive. The slab being filled
   * is set aside too when anything moves, so that moved records are packed densely.
   */
  compact(): void {
    const sparse: number[] = [];
    this.#slabs.forEach((slab, slabId) => {
      if (slab !== undefined && (this.#liveBytes[slabId] as number) < slab.length * COMPACT_BELOW)
        sparse.push(slabId);
    });
    if (!sparse.some((slabId) => slabId !== this.#current)) return;
    this.#current = -1;
    // Ids dropped here may be reused for the fresh slabs, but never one still to evacuate.
    for (const slabId of sparse) this.#evacuate(slabId, this.#slabs[slabId] as Buffer);
  }

  /** Drops every record and slab. */
  clear(): void {
    this.#slabs.length = 0;
    this.#liveBytes.length = 0;
    this.#freeSlabIds.length = 0;
    this.#freeSlots.length = 0;
    this.#current = -1;
    this.#used = 0;
    this.#slotCount = 0;
  }

  /** How many slabs are held, and their bytes: for tests and diagnostics. */
  get footprint(): { readonly slabs: number; readonly bytes: number } {
    let slabs = 0;
    let bytes = 0;
    for (const slab of this.#slabs) {
      if (slab === undefined) continue;
      slabs++;
      bytes += slab.length;
    }
    return { slabs, bytes };
  }

  #newSlot(): number {
    const slot = this.#slotCount++;
    if (slot === this.#slabOf.length) {
      this.#slabOf = grown(this.#slabOf);
      this.#startOf = grown(this.#startOf);
      this.#lengthOf = grown(this.#lengthOf);
    }
    return slot;
  }

  /** Finds room for a slot's record and records where it is; the bytes are the caller's to write. */
  #place(slot: number, length: number): void {
    const size = HEADER_BYTES + length;
    let slabId: number;
    let offset: number;
    if (size > this.#slabBytes * COMPACT_BELOW) {
      // Alone in a slab of its own, dropped when it is freed: moving it would cost more
      // than it frees, and it would leave most of a shared slab unused.
      slabId = this.#addSlab(size);
      offset = 0;
    } else {
      if (this.#current === -1 || this.#used + size > this.#slabBytes) {
        const previous = this.#current;
        this.#current = this.#addSlab(this.#slabBytes);
        this.#used = 0;
        if (previous !== -1 && this.#liveBytes[previous] === 0) this.#drop(previous);
      }
      slabId = this.#current;
      offset = this.#used;
      this.#used += size;
    }
    const slab = this.#slabs[slabId] as Buffer;
    slab.writeUInt32LE(slot, offset);
    slab.writeUInt32LE(length, offset + 4);
    this.#slabOf[slot] = slabId;
    this.#startOf[slot] = offset + HEADER_BYTES;
    this.#lengthOf[slot] = length;
    this.#liveBytes[slabId] = (this.#liveBytes[slabId] as number) + size;
  }

  #addSlab(size: number): number {
    // Unpooled and uninitialised: only bytes written through `bytes` are ever read back.
    const slab = Buffer.allocUnsafeSlow(size);
    const slabId = this.#freeSlabIds.pop() ?? this.#slabs.length;
    this.#slabs[slabId] = slab;
    this.#liveBytes[slabId] = 0;
    return slabId;
  }

  #drop(slabId: number): void {
    this.#slabs[slabId] = undefined;
    this.#freeSlabIds.push(slabId);
  }

  /** Moves every live record of a slab elsewhere, then drops the slab. */
  #evacuate(slabId: number, slab: Buffer): void {
    let offset = 0;
    while (offset + HEADER_BYTES <= slab.length) {
      const slot = slab.readUInt32LE(offset);
      const length = slab.readUInt32LE(offset + 4);
      const start = offset + HEADER_BYTES;
      // A record freed since (its slot maybe reused elsewhere) is skipped. The walk stops
      // at the last live record, before the slab's unwritten tail.
      if (this.#slabOf[slot] === slabId && this.#startOf[slot] === start) {
        this.#liveBytes[slabId] = (this.#liveBytes[slabId] as number) - HEADER_BYTES - length;
        this.#place(slot, length);
        slab.copy(this.bytes(slot), 0, start, start + length);
      }
      if (this.#liveBytes[slabId] === 0) break;
      offset = start + length;
    }
    this.#drop(slabId);
  }
}

function grown(table: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const larger = new Int32Array(table.length * 2);
  larger.set(table);
  return larger;
}
