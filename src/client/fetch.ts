/**
 * `idempotentFetch`: `fetch` with an idempotency key and safe retries.
 * @module
 */
import { FetchFailedError } from "./errors.js";
import { randomKey } from "./keys.js";
import { type IdempotentFetchOptions, type ResolvedFetchOptions, resolveFetchOptions } from "./options.js";
import { backoffDelay, MAX_TIMER, parseRetryAfter, sleep } from "./retry.js";

/** What `idempotentFetch` knows about a response it returned. */
export interface IdempotentResponseInfo {
  /** The idempotency key the request carried. */
  readonly key: string;
  /** How many attempts were made, the successful one included. */
  readonly attempts: number;
  /** The server answered from its record of an earlier execution instead of executing again. */
  readonly replayed: boolean;
}

// Kept on globalThis so that two copies of the package loaded side by side agree.
const registry = Symbol.for("oncely.client.responses");
const shared = globalThis as { [registry]?: WeakMap<Response, IdempotentResponseInfo> };
shared[registry] ??= new WeakMap();
const infos = shared[registry];

/**
 * Sends a request with an idempotency key, retrying what a retry can cure.
 *
 * The key is chosen once (see {@link IdempotentFetchOptions.key}) and sent on every attempt,
 * so the server executes the request at most once however many attempts reach it.
 * Network errors, 5xx, 409 and 429 are retried with full-jitter exponential backoff, or
 * after the `Retry-After` the server asked for; every other status is returned at once.
 *
 * The request body is held in memory for the retries, so any body `fetch` takes works,
 * streams included (a stream is read once and kept).
 *
 * @param input as for `fetch`
 * @param init as for `fetch`; `init.signal` aborts the call, including a wait between attempts
 * @param options retry and key options, each documented with its default
 * @returns the final response, whatever its status: the first non-retryable one, or the
 *   last retryable one when attempts or time ran out. {@link responseInfo} and
 *   {@link isReplay} tell about it.
 * @throws FetchFailedError when no response came at all (network errors or the time budget)
 * @throws the signal's reason when `init.signal` aborts, as `fetch` does
 * @example
 * const response = await idempotentFetch("https://api.example/payments", {
 *   method: "POST",
 *   body: JSON.stringify({ amount: 100 }),
 * }, { key: operationKey("charge", "order-1842", order.createdAt) });
 * if (isReplay(response)) console.log("already charged earlier");
 */
export async function idempotentFetch(
  input: string | URL | Request,
  init: RequestInit = {},
  options: IdempotentFetchOptions = {},
): Promise<Response> {
  const resolved = resolveFetchOptions(options);
  const template = new Request(input, init);
  const key = options.key ?? template.headers.get(resolved.header) ?? randomKey();
  template.headers.set(resolved.header, key);
  const signal = template.signal;
  const deadline = Date.now() + resolved.timeout;
  const target = `${template.method} ${template.url}`;

  for (let attempt = 1; ; attempt++) {
    signal.throwIfAborted();
    const budget = budgetSignal(deadline);
    let response: Response | undefined;
    let error: unknown;
    try {
      response = await fetch(template.clone(), {
        signal: budget ? AbortSignal.any([signal, budget]) : signal,
      });
    } catch (failure) {
      // A caller's abort ends the call with the caller's reason, exactly as `fetch` would.
      if (signal.aborted) throw signal.reason;
      if (budget?.aborted) {
        throw new FetchFailedError(target, key, attempt, `no response within ${resolved.timeout} ms`, {
          cause: failure,
        });
      }
      error = failure;
    }
    if (response && !resolved.retryOn(response.status)) return annotate(response, key, attempt, resolved);

    const delay =
      parseRetryAfter(response?.headers.get("retry-after") ?? null, Date.now()) ??
      backoffDelay(attempt, resolved);
    if (attempt >= resolved.attempts || Date.now() + delay >= deadline) {
      if (response) return annotate(response, key, attempt, resolved);
      throw new FetchFailedError(target, key, attempt, `no response: ${describe(error)}`, { cause: error });
    }
    // An unread body holds its connection until it is collected; let it go before waiting.
    await response?.body?.cancel().catch(() => undefined);
    resolved.onRetry?.(
      response ? { key, attempt, delay, status: response.status } : { key, attempt, delay, error },
    );
    await sleep(delay, signal);
  }
}

/** Aborts when the call's time budget ends; none for a budget too far away for a timer. */
function budgetSignal(deadline: number): AbortSignal | undefined {
  const remaining = deadline - Date.now();
  return remaining <= MAX_TIMER ? AbortSignal.timeout(Math.max(0, remaining)) : undefined;
}

function annotate(
  response: Response,
  key: string,
  attempts: number,
  options: ResolvedFetchOptions,
): Response {
  infos.set(response, { key, attempts, replayed: response.headers.get(options.replayHeader) === "true" });
  return response;
}

/** The innermost message: undici reports "fetch failed" and keeps the real reason in `cause`. */
function describe(error: unknown): string {
  let current = error;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  return current instanceof Error ? current.message : String(current);
}

/** The key, attempt count and replay flag of a response returned by {@link idempotentFetch}. */
export function responseInfo(response: Response): IdempotentResponseInfo | undefined {
  return infos.get(response);
}

/**
 * True when the server answered from an earlier execution (`X-Idempotency-Replayed: true`).
 * For a response of {@link idempotentFetch} this honours its `replayHeader` option; for any
 * other response it reads the default header.
 */
export function isReplay(response: Response): boolean {
  return infos.get(response)?.replayed ?? response.headers.get("x-idempotency-replayed") === "true";
}
