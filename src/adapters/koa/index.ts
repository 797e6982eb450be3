/**
 * `oncely/koa`: idempotency middleware for Koa 2 and 3.
 *
 * Koa runs on Node's own request and response, so this is a thin translation onto the
 * shared Node HTTP layer: the body is read (and left for body parsers after oncely to
 * read), refusals and replays are written directly (Koa is then told not to respond), and
 * whatever Koa sends for a guarded request is captured on its way out.
 *
 * Mount it before body parsers so the fingerprint covers the exact body bytes. A keyed body
 * over `maxRequestBodyBytes` is not buffered: it streams to the middleware after oncely,
 * hashed as Node receives it, up to `maxUploadBytes` (no cap by default).
 *
 * @example
 * import Koa from "koa";
 * import { createStore } from "oncely";
 * import { idempotency } from "oncely/koa";
 *
 * const app = new Koa();
 * app.use(idempotency({ store: await createStore("memory:") }));
 * app.use((ctx) => {
 *   ctx.status = 201;
 *   ctx.body = { id: 1 };
 * });
 * @module
 */
import type { Middleware } from "koa";
import { createEngine } from "../../core/engine.js";
import type { IdempotencyOptions } from "../../core/options.js";
import { handlerStreamer } from "../../http/node/body-stream.js";
import { guardRequest } from "../../http/node/guard.js";

export type { IdempotencyOptions } from "../../core/options.js";

/**
 * Idempotency as Koa middleware. A guarded request runs the rest of the stack once per
 * key; retries get the stored response back with `X-Idempotency-Replayed: true`;
 * refusals (409, 422, 400) are problem+json. A downstream middleware that throws releases
 * the key (a retry executes again), and the error goes on to Koa's error handling.
 *
 * Koa destroys a stream body when the client leaves, so such a response is not stored
 * then: the key is let go a lease later, and a retry executes again. Bodies set whole
 * (strings, buffers, JSON) are stored even when the client left.
 *
 * @param options engine options; see {@link IdempotencyOptions} for every default
 */
export function idempotency(options: IdempotencyOptions): Middleware {
  const engine = createEngine(options);
  const guarding = { streamer: handlerStreamer(engine) };
  return async function oncelyIdempotency(ctx, next) {
    if (!engine.guards(ctx.method)) return next();
    const outcome = await guardRequest(engine, ctx.req, ctx.res, guarding);
    if (!outcome.next) {
      // Answered already, straight on the response.
      ctx.respond = false;
      return;
    }
    const { execution } = outcome;
    if (!execution) return next();
    try {
      await next();
    } catch (error) {
      await execution.fail();
      throw error;
    }
  };
}
