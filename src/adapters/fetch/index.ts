/**
 * `oncely/fetch`: idempotency for any fetch-style handler, `(Request) => Response` — Bun,
 * Deno, Cloudflare Workers, Next.js route handlers, and every framework built on them.
 * Loads no `node:` module.
 *
 * @example
 * import { createStore } from "oncely";
 * import { withIdempotency } from "oncely/fetch";
 *
 * const store = await createStore("memory:");
 * export default {
 *   fetch: withIdempotency(async (request) => Response.json({ id: 1 }, { status: 201 }), { store }),
 * };
 * @module
 */
import { createEngine } from "../../core/engine.js";
import type { IdempotencyOptions } from "../../core/options.js";
import { guardFetch } from "../../http/fetch/guard.js";

export type { IdempotencyOptions } from "../../core/options.js";
export { captureResponse } from "../../http/fetch/capture.js";
export { type FetchGuard, guardFetchRequest } from "../../http/fetch/guard.js";

/** A fetch-style handler. Extra arguments (a Workers `env`, a Next.js `context`) are passed on. */
export type FetchHandler<Args extends unknown[] = unknown[]> = (
  request: Request,
  ...args: Args
) => Response | Promise<Response>;

/**
 * Wraps a fetch-style handler. A guarded request is run once per key: retries get the
 * stored response back (with `X-Idempotency-Replayed: true`), a duplicate in flight gets
 * 409, a key reused with another request gets 422, all as problem+json. A handler that
 * throws releases the key (a retry executes again) and the error propagates to the runtime.
 * A keyed body over `maxRequestBodyBytes` is not read first: the handler is given a copy of
 * the request whose body is hashed as it reads it (up to `maxUploadBytes`); read that one.
 *
 * @param handler the handler to guard
 * @param options engine options; see {@link IdempotencyOptions} for every default
 */
export function withIdempotency<Args extends unknown[]>(
  handler: FetchHandler<Args>,
  options: IdempotencyOptions,
): (request: Request, ...args: Args) => Promise<Response> {
  const engine = createEngine(options);
  return function oncelyFetch(request, ...args) {
    return guardFetch(engine, request, (guarded) => handler(guarded, ...args));
  };
}
