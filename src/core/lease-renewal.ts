import type { IdempotencyStore, Lease } from "../store.js";
import { SlotArray, type Slotted } from "./slot-array.js";

/** What a {@link LeaseRenewal} reports while it keeps a lease alive. */
export interface LeaseRenewalHandlers {
  /** The store said the lease is no longer ours: it lapsed and another execution took the key over. */
  onLost(): void;
  /** A renewal failed; the next one is tried on schedule, and the lease lapses if they all fail. */
  onError(error: unknown): void;
}

/**
 * One interval timer per lease length, shared by every renewal of that length. A timer
 * per request costs measurable CPU on the request path (creating, unref-ing and clearing
 * it); a registry entry costs an array slot (not a `Set` entry: see {@link SlotArray}).
 */
class RenewalTicker {
  readonly #renewals = new SlotArray<LeaseRenewal>();
  readonly #periodMs: number;
  readonly #onEmpty: () => void;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(periodMs: number, onEmpty: () => void) {
    this.#periodMs = periodMs;
    this.#onEmpty = onEmpty;
  }

  add(renewal: LeaseRenewal): void {
    this.#renewals.add(renewal);
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      for (const due of this.#renewals) due.renewNow();
    }, this.#periodMs);
    // A pending renewal must not keep a process alive that has nothing else to do. Timers
    // are plain numbers where there is no process to keep alive (Workers, browsers).
    (this.#timer as { unref?: () => void }).unref?.();
  }

  delete(renewal: LeaseRenewal): void {
    if (!this.#renewals.delete(renewal) || this.#renewals.size > 0) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#onEmpty();
  }
}

/**
 * How long after sending its claim an owner may still start work under a lease of
 * `leaseMs`: two thirds of it, so that the first renewal, due at most a third of a lease
 * after the start, lands before the lease lapses.
 */
export function startDeadlineMs(leaseMs: number): number {
  return leaseMs - Math.floor(leaseMs / 3);
}

const tickers = new Map<number, RenewalTicker>();

function tickerFor(periodMs: number): RenewalTicker {
  let ticker = tickers.get(periodMs);
  if (!ticker) {
    ticker = new RenewalTicker(periodMs, () => tickers.delete(periodMs));
    tickers.set(periodMs, ticker);
  }
  return ticker;
}

/**
 * Keeps an in-flight lease alive while its owner works, by renewing it about every
 * third of the lease period (at most a third late, so a live lease never lapses). A live
 * owner therefore never loses its key, while a dead one (killed, frozen, partitioned)
 * stops renewing and lets the lease lapse so another execution can take the key over.
 * Every renewal is fenced by the owner token in the store.
 *
 * Used by the HTTP engine's executions and by `oncely/events`.
 */
export class LeaseRenewal implements Slotted {
  /** @internal Its place in its ticker's renewals. */
  slot = -1;
  readonly #store: IdempotencyStore;
  readonly #lease: Lease;
  readonly #leaseMs: number;
  readonly #handlers: LeaseRenewalHandlers;
  readonly #ticker: RenewalTicker;
  #until = Number.POSITIVE_INFINITY;
  #requester: { readonly abandoned: boolean } | undefined;
  #lost = false;

  /** Starts renewing at once; call {@link stop} when the work ends. */
  constructor(store: IdempotencyStore, lease: Lease, leaseMs: number, handlers: LeaseRenewalHandlers) {
    this.#store = store;
    this.#lease = lease;
    this.#leaseMs = leaseMs;
    this.#handlers = handlers;
    this.#ticker = tickerFor(Math.max(10, Math.floor(leaseMs / 3)));
    this.#ticker.add(this);
  }

  /** True once the store refused a renewal: the key belongs to someone else now. */
  get lost(): boolean {
    return this.#lost;
  }

  /**
   * Renews for one more lease period at most once `requester.abandoned` turns true:
   * looked at before each renewal, so noticing costs nothing on the way there.
   */
  watch(requester: { readonly abandoned: boolean }): void {
    this.#requester = requester;
  }

  /** Stops renewing; the lease then lapses on its own unless it is completed or released. */
  stop(): void {
    // Stopping again is harmless: the ticker no longer holds this renewal.
    this.#ticker.delete(this);
  }

  /** @internal Called by the shared ticker. */
  renewNow(): void {
    // Work whose requester left may never end: renewing stops one lease later, so that it
    // cannot pin the key for ever. The first deadline set stays.
    if (this.#requester?.abandoned) this.#until = Math.min(this.#until, Date.now() + this.#leaseMs);
    if (Date.now() > this.#until) {
      this.stop();
      return;
    }
    this.#store.renew(this.#lease, this.#leaseMs).then(
      (owned) => {
        if (owned || this.#lost) return;
        this.#lost = true;
        this.stop();
        this.#handlers.onLost();
      },
      (error: unknown) => this.#handlers.onError(error),
    );
  }
}
