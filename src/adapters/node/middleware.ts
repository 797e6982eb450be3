import type { IncomingMessage, ServerResponse } from "node:http";
import { createEngine } from "../../core/engine.js";
import type { Execution } from "../../core/execution.js";
import type { IdempotencyOptions } from "../../core/options.js";
import { handlerStreamer } from "../../http/node/body-stream.js";
import { guardRequest, type NodeMiddleware } from "../../http/node/guard.js";

export type { NodeMiddleware } from "../../http/node/guard.js";

/**
 * Idempotency as connect-style middleware, for plain `node:http` stacks and any
 * framework that speaks `(req, res, next)`.
 *
 * @param options engine options; see {@link IdempotencyOptions} for every default
 * @example
 * const guard = idempotency({ store: await createStore("sqlite:./oncely.db") });
 * http.createServer((req, res) => guard(req, res, () => handle(req, res)));
 */
export function idempotency(options: IdempotencyOptions): NodeMiddleware {
  const engine = createEngine(options);
  const guarding = { streamer: handlerStreamer(engine) };
  return function oncelyIdempotency(req, res, next) {
    if (!engine.guards(req.method ?? "GET")) return next();
    guardRequest(engine, req, res, guarding).then((outcome) => (outcome.next ? next() : undefined), next);
  };
}

/** A plain Node request handler, sync or async. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/**
 * Wraps a `node:http` request handler. A handler that throws or rejects releases the
 * key (a retry executes again) and, if nothing was sent yet, gets a bare 500.
 *
 * @example
 * http.createServer(withIdempotency(async (req, res) => { res.end("ok"); }, { store }));
 */
export function withIdempotency(handler: NodeHandler, options: IdempotencyOptions): NodeHandler {
  const engine = createEngine(options);
  const guarding = { streamer: handlerStreamer(engine) };
  return async function oncelyHandler(req, res) {
    let execution: Execution | undefined;
    try {
      if (engine.guards(req.method ?? "GET")) {
        const outcome = await guardRequest(engine, req, res, guarding);
        if (!outcome.next) return;
        execution = outcome.execution;
      }
      await handler(req, res);
    } catch {
      await execution?.fail();
      if (!res.headersSent) {
        res.statusCode = 500;
        res.end();
      } else if (!res.writableEnded) {
        res.destroy();
      }
    }
  };
}
