/**
 * {@link StoreNotifier}: wakes duplicates waiting for an in-flight record through the
 * store server's notifications (PostgreSQL LISTEN/NOTIFY, Redis pub/sub) instead of having
 * each of them poll.
 *
 * @module
 */
import type { InFlightRecord, RecordRef } from "../store.js";
import { ChangeWaiters } from "./change-waiters.js";

/** A listening connection, as {@link NotifierSettings.subscribe} opens it. */
export interface Subscription {
  close(): Promise<void>;
}

/** What a subscription reports to the notifier. */
export interface SubscriptionEvents {
  /** A record's change was notified; `id` is the notification's payload. */
  wake(id: string): void;
  /** The connection failed or ended: notifications may have been lost. */
  lost(): void;
}

/** What the notifier needs of its store. */
export interface NotifierSettings {
  /** Opens the dedicated connection and resolves once it listens on the store's channel. */
  readonly subscribe: (events: SubscriptionEvents) => Promise<Subscription>;
  /**
   * Marks the record watched, so that its completion or release is notified; false when it
   * is no longer the in-flight record the waiter saw.
   */
  readonly watch: (record: InFlightRecord) => Promise<boolean>;
  /** The payload the store's notifications carry for a record. */
  readonly idOf: (ref: RecordRef) => string;
}

/**
 * One listening connection per store, shared by all its waiters, opened on the first wait
 * and kept until the store closes. Waiters are grouped by record: the first waiter of a
 * record marks it watched (one write, whatever the number of waiters) once the connection
 * listens, and a notification wakes the whole group. If the connection drops,
 * notifications may have been lost, so every waiter is woken to look again, and the next
 * wait opens a new connection.
 */
export class StoreNotifier {
  readonly #settings: NotifierSettings;
  readonly #waiters = new ChangeWaiters();
  #subscription: Promise<Subscription> | undefined;
  #closed = false;

  constructor(settings: NotifierSettings) {
    this.#settings = settings;
  }

  /** How many duplicates wait now. */
  get size(): number {
    return this.#waiters.size;
  }

  /** See `IdempotencyStore.waitForChange`. Never rejects. */
  wait(record: InFlightRecord, timeoutMs: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const id = this.#settings.idOf(record);
    const { done, first } = this.#waiters.wait(id, record.token, timeoutMs);
    if (first) void this.#watch(id, record);
    return done;
  }

  /** Wakes every waiter and closes the listening connection. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#waiters.wakeAll();
    const subscription = this.#subscription;
    this.#subscription = undefined;
    await subscription?.then(
      (open) => open.close(),
      () => {},
    );
  }

  /** Listens, then marks the record watched; wakes its waiters at once if it changed already. */
  async #watch(id: string, record: InFlightRecord): Promise<void> {
    try {
      await this.#subscribed();
      if (!(await this.#settings.watch(record))) this.#waiters.wake(id);
    } catch {
      // Server unreachable: the waiters' timeouts (the engine's slow safety poll) look again.
    }
  }

  #subscribed(): Promise<Subscription> {
    if (this.#subscription) return this.#subscription;
    let lost = false;
    const subscription = this.#settings
      .subscribe({
        wake: (id) => this.#waiters.wake(id),
        lost: () => {
          if (lost) return;
          lost = true;
          if (this.#subscription === subscription) this.#subscription = undefined;
          void subscription.then((open) => open.close()).catch(() => {});
          this.#waiters.wakeAll();
        },
      })
      .then(async (open) => {
        // Closed while connecting: nobody else will close it.
        if (this.#closed) await open.close();
        return open;
      });
    subscription.catch(() => {
      if (this.#subscription === subscription) this.#subscription = undefined;
    });
    this.#subscription = subscription;
    return subscription;
  }
}
