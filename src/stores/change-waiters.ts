/**
 * {@link ChangeWaiters}: the duplicates of one store that wait for in-flight records to
 * change, grouped by record so that one notification wakes them all.
 *
 * @module
 */
import type { RecordRef } from "../store.js";

/** One waiting duplicate: how to wake it, and its timeout. */
interface Waiter {
  readonly wake: () => void;
  readonly timer: NodeJS.Timeout;
}

/** The waiters of one record, and the owner tokens some waiter already asked the store to watch. */
interface Group {
  readonly waiters: Set<Waiter>;
  readonly tokens: Set<string>;
}

/** What {@link ChangeWaiters.wait} gives back. */
export interface Registration {
  /** Resolves when the record is woken, when the timeout passes, or when the registry closes. */
  readonly done: Promise<void>;
  /**
   * True for the first waiter of this record and owner token: the store must arrange to be
   * notified of the record's change (and check it did not change already). Later waiters of
   * the same record and token share that arrangement.
   */
  readonly first: boolean;
}

/**
 * A bounded registry of waiters: each leaves it when woken or when its timeout passes, so
 * nothing accumulates however many waits time out. Timers are unref'd: a waiter never
 * keeps the process alive.
 */
export class ChangeWaiters {
  readonly #groups = new Map<string, Group>();
  #count = 0;

  /** How many waiters are registered now. */
  get size(): number {
    return this.#count;
  }

  /**
   * Registers a waiter of record `id` (a store's own identifier of a record) that saw it in
   * flight under `token`.
   */
  wait(id: string, token: string, timeoutMs: number): Registration {
    let group = this.#groups.get(id);
    if (!group) {
      group = { waiters: new Set(), tokens: new Set() };
      this.#groups.set(id, group);
    }
    const first = !group.tokens.has(token);
    group.tokens.add(token);
    const members = group;
    const done = new Promise<void>((resolve) => {
      const waiter: Waiter = {
        wake: resolve,
        timer: setTimeout(() => this.#leave(id, members, waiter), Math.max(0, timeoutMs)),
      };
      waiter.timer.unref();
      members.waiters.add(waiter);
      this.#count++;
    });
    return { done, first };
  }

  /** Wakes every waiter of record `id`. */
  wake(id: string): void {
    const group = this.#groups.get(id);
    if (!group) return;
    this.#groups.delete(id);
    for (const waiter of group.waiters) this.#release(waiter);
  }

  /** Wakes every waiter, for when notifications may have been lost (a dropped listener) or the store closes. */
  wakeAll(): void {
    const groups = [...this.#groups.values()];
    this.#groups.clear();
    for (const group of groups) for (const waiter of group.waiters) this.#release(waiter);
  }

  #leave(id: string, group: Group, waiter: Waiter): void {
    if (!group.waiters.delete(waiter)) return;
    this.#release(waiter);
    if (group.waiters.size === 0 && this.#groups.get(id) === group) this.#groups.delete(id);
  }

  #release(waiter: Waiter): void {
    clearTimeout(waiter.timer);
    this.#count--;
    waiter.wake();
  }
}

/** An unambiguous identifier of a record for a registry: the scope is length-prefixed. */
export function waiterId({ scope, key }: RecordRef): string {
  return `${scope.length}:${scope}${key}`;
}
