/**
 * Retry timing of `idempotentFetch`: exponential backoff with full jitter, `Retry-After`,
 * and a sleep that an AbortSignal cuts short.
 * @module
 */

/** The longest delay `setTimeout` takes; longer ones fire at once with a warning. */
export const MAX_TIMER = 2 ** 31 - 1;

/**
 * The wait after the `failed`-th failed attempt: uniform in `[0, bound]`, where the bound
 * starts at `backoff` and doubles each time up to `maxBackoff` (AWS "full jitter").
 * @param random a source of numbers in [0, 1); tests pass a fixed one
 */
export function backoffDelay(
  failed: number,
  { backoff, maxBackoff }: { readonly backoff: number; readonly maxBackoff: number },
  random: () => number = Math.random,
): number {
  const bound = Math.min(maxBackoff, backoff * 2 ** (failed - 1));
  return Math.floor(random() * bound);
}

const SECONDS = /^\d+$/;

/**
 * Milliseconds to wait according to a `Retry-After` value (RFC 9110 §10.2.3): delay seconds
 * or an HTTP-date. A date in the past means "now".
 * @returns undefined when the header is absent or unreadable (the caller backs off instead)
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (SECONDS.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(
      () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      },
      Math.min(ms, MAX_TIMER),
    );
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
