/** First and longest pause between two looks at an in-flight original while a duplicate waits. */
const WAIT_POLL_MIN_MS = 20;
const WAIT_POLL_MAX_MS = 250;

/**
 * Paces a duplicate that waits for an in-flight original: the pauses start short (the
 * original is often nearly done) and double up to a ceiling (so a long original is not
 * hammered with claims), and never run past the deadline.
 *
 * Used by the HTTP engine's `wait`, by `oncely/events`' `concurrent: "wait"`, and by the
 * SQLite store while another process holds a lock it must not wait on inside SQLite.
 */
export class WaitPacer {
  readonly #deadline: number;
  #pause = WAIT_POLL_MIN_MS;

  /**
   * @param waitMs how long the duplicate may wait in all; 0 gives up at the first look
   * @param since when the wait began (epoch milliseconds)
   */
  constructor(waitMs: number, since = Date.now()) {
    this.#deadline = since + waitMs;
  }

  /** Sleeps until the next look and resolves true, or resolves false at once when the wait is over. */
  async pause(): Promise<boolean> {
    const remaining = this.#deadline - Date.now();
    if (remaining <= 0) return false;
    await sleep(Math.min(this.#pause, remaining));
    this.#pause = Math.min(this.#pause * 2, WAIT_POLL_MAX_MS);
    return true;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
