import type { IdempotencyStore, InFlightRecord } from "../store.js";

/** First and longest pause between two looks at an in-flight original while a duplicate waits. */
const WAIT_POLL_MIN_MS = 20;
const WAIT_POLL_MAX_MS = 250;
/**
 * How long a duplicate trusts a store's change notifications before it looks at the record
 * anyway, first and at most: a lost notification, or a lease that lapsed without any write,
 * is noticed that late. Slow and growing, because a look is what notifications exist to
 * avoid: a thousand duplicates of one long original would otherwise look all together.
 */
const NOTIFIED_RECHECK_MIN_MS = 1_000;
const NOTIFIED_RECHECK_MAX_MS = 8_000;

/**
 * Waits for a change of the record, at most `timeoutMs`: a store's `waitForChange`,
 * bound to the in-flight record the duplicate saw.
 */
export type ChangeWait = (timeoutMs: number) => Promise<void>;

/** The change wait of `store` for `record`, or undefined when the store has none and is polled. */
export function changeWaitOf(store: IdempotencyStore, record: InFlightRecord): ChangeWait | undefined {
  const { waitForChange } = store;
  return waitForChange && ((timeoutMs) => waitForChange.call(store, record, timeoutMs));
}

/**
 * Paces a duplicate that waits for an in-flight original: the pauses start short (the
 * original is often nearly done) and double up to a ceiling (so a long original is not
 * hammered with claims), and never run past the deadline. Given a store's change wait, a
 * pause lasts until the store reports a possible change instead, or a slow safety interval.
 *
 * Used by the HTTP engine's `wait`, by `oncely/events`' `concurrent: "wait"`, and by the
 * SQLite store while another process holds a lock it must not wait on inside SQLite.
 */
export class WaitPacer {
  readonly #deadline: number;
  #pause = WAIT_POLL_MIN_MS;
  #recheck = NOTIFIED_RECHECK_MIN_MS;

  /**
   * @param waitMs how long the duplicate may wait in all; 0 gives up at the first look
   * @param since when the wait began (epoch milliseconds)
   */
  constructor(waitMs: number, since = Date.now()) {
    this.#deadline = since + waitMs;
  }

  /**
   * Waits until the next look and resolves true, or resolves false at once when the wait
   * is over.
   * @param change the store's change wait for the record; without it, the pause is a sleep
   */
  async pause(change?: ChangeWait): Promise<boolean> {
    const remaining = this.#deadline - Date.now();
    if (remaining <= 0) return false;
    if (change) {
      // ±20 %, so that duplicates that began together do not look again together.
      const recheck = this.#recheck * (0.8 + 0.4 * Math.random());
      this.#recheck = Math.min(this.#recheck * 2, NOTIFIED_RECHECK_MAX_MS);
      try {
        await change(Math.min(recheck, remaining));
        return true;
      } catch {
        // The contract says it never rejects; a store that does is polled instead.
      }
    }
    await sleep(Math.min(this.#pause, remaining));
    this.#pause = Math.min(this.#pause * 2, WAIT_POLL_MAX_MS);
    return true;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
