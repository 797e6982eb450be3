/**
 * `oncely/hono`: idempotency middleware for Hono, on every runtime Hono runs on. Built on
 * the fetch-standard layer; loads no `node:` module, and nothing of Hono but its types.
 *
 * @example
 * import { Hono } from "hono";
 * import { createStore } from "oncely";
 * import { idempotency } from "oncely/hono";
 *
 * const app = new Hono();
 * app.use("/orders/*", idempotency({ store: await createStore("memory:") }));
 * app.post("/orders", async (c) => c.json({ id: 1, item: await c.req.json() }, 201));
 * @module
 */
import type { HonoRequest, MiddlewareHandler } from "hono";
import { createEngine } from "../../core/engine.js";
import type { IdempotencyOptions } from "../../core/options.js";
import { captureResponse } from "../../http/fetch/capture.js";
import { guardFetchRequest } from "../../http/fetch/guard.js";
import { bufferBody, TOO_LARGE } from "../../http/fetch/request.js";

export type { IdempotencyOptions } from "../../core/options.js";

/**
 * Idempotency as Hono middleware, for an app (`app.use(...)`), a path or one route. A
 * guarded request runs its handler once per key; retries get the stored response back
 * with `X-Idempotency-Replayed: true`; refusals (409, 422, 400) are problem+json. A
 * handler that throws releases the key, and Hono's `onError` answers as usual.
 *
 * A body with a `Content-Length` is read through Hono's body cache, where `c.req.json()`,
 * `text()`, `arrayBuffer()`, `parseBody()` and validators find it again: handlers after
 * this middleware read the body through `c.req`, not from `c.req.raw` (copying the
 * request instead cost up to half the throughput of a small endpoint). A keyed body over
 * `maxRequestBodyBytes` is not read first: `c.req.raw` becomes a request whose body is
 * hashed as the handler reads it (up to `maxUploadBytes`).
 *
 * @param options engine options; see {@link IdempotencyOptions} for every default
 */
export function idempotency(options: IdempotencyOptions): MiddlewareHandler {
  const engine = createEngine(options);
  return async function oncelyIdempotency(c, next) {
    const guard = await guardFetchRequest(engine, c.req.raw, (limit) => readThroughCache(c.req, limit));
    if (guard.action === "answer") {
      c.res = undefined;
      c.res = guard.response;
      return;
    }
    // A body too large to buffer: handlers read it, hashed on the way, through this request.
    if (guard.request) c.req.raw = guard.request;
    await next();
    const { execution } = guard;
    if (!execution) return;
    // Hono turned a thrown error into `onError`'s answer; the error itself is the signal.
    if (c.error) {
      await execution.fail();
      return;
    }
    try {
      const captured = await captureResponse(execution, c.res, c.req.raw.signal);
      // Cleared first: Hono's setter otherwise wraps the new response around the old one's
      // headers, turning a body at hand into a stream. The captured one has them all.
      c.res = undefined;
      c.res = captured;
    } catch (error) {
      await execution.fail();
      throw error;
    }
  };
}

/**
 * The body through Hono's cache when its length is declared (and so bounded); otherwise
 * from a copy, read up to the limit.
 */
async function readThroughCache(request: HonoRequest, limit: number): Promise<Uint8Array | typeof TOO_LARGE> {
  const declared = request.header("content-length");
  if (declared === undefined) return bufferBody(request.raw, limit);
  if (Number(declared) > limit) return TOO_LARGE;
  return new Uint8Array(await request.arrayBuffer());
}
