/** An item of a {@link SlotArray}; an item belongs to one `SlotArray` at most. */
export interface Slotted {
  /** Where the item sits in its `SlotArray`, so that removing it costs no search; -1 when it is in none. */
  slot: number;
}

/**
 * A set of short-lived items that come and go with requests (requests in flight, lease
 * renewals), for hot paths where a `Set` costs garbage-collection time.
 *
 * V8 rebuilds a `Set`'s table once deletions have filled it, every few dozen items under
 * load, and the table it drops keeps pointing at the items it held. Once such a table
 * has reached the old generation, every minor GC takes those pointers for live ones and
 * promotes the items they reach, with all they reference (a request record holds its
 * response, and through it the request and the sockets' buffers), to be freed only by the
 * next full GC. Measured on the gateway (`node --trace-gc-nvp`, 50 connections): about
 * 5 KB promoted per request without a key, 7.6 to 9.9 KB with one (two `Set`s), and
 * minor GCs took three times as long. Here the items sit in an array whose slots are
 * overwritten or emptied as items leave; its storage is replaced only when it must grow
 * past the most items it held, not every few dozen removals.
 */
export class SlotArray<T extends Slotted> implements Iterable<T> {
  readonly #items: T[] = [];

  get size(): number {
    return this.#items.length;
  }

  add(item: T): void {
    item.slot = this.#items.push(item) - 1;
  }

  /** Removes the item if it is here (the last item takes its slot); returns whether it was. */
  delete(item: T): boolean {
    const slot = item.slot;
    if (slot < 0 || this.#items[slot] !== item) return false;
    const last = this.#items.pop() as T;
    if (last !== item) {
      this.#items[slot] = last;
      last.slot = slot;
    }
    item.slot = -1;
    return true;
  }

  /** Iterates over a copy, so that items may leave while it runs. */
  [Symbol.iterator](): Iterator<T> {
    return this.#items.slice()[Symbol.iterator]();
  }
}
