import type { IncomingMessage, ServerResponse } from "node:http";
import { createEngine, type IdempotencyEngine } from "../../core/engine.js";
import type { Execution } from "../../core/execution.js";
import type { IdempotencyOptions } from "../../core/options.js";
import { problem } from "../../core/problems.js";
import { captureResponse } from "./capture.js";
import {
  bufferRequestBody,
  headerLines,
  type KnownHeader,
  TOO_LARGE,
  toIncomingRequest,
} from "./incoming.js";
import { sendProblem, sendReplay } from "./send.js";

/** What the adapter does after the engine has decided. */
export type Outcome = { readonly next: false } | { readonly next: true; readonly execution?: Execution };

const NEXT: Outcome = { next: true };

/**
 * Runs the engine for one Node request and carries out its decision. Gives (or resolves
 * with) `next: true` when the handler must run (its response is then captured); at once
 * for a request that passes for want of a key, whose body is then left unread.
 * @internal shared by the Node and Express adapters and the gateway
 */
export function guardRequest(
  engine: IdempotencyEngine,
  req: IncomingMessage,
  res: ServerResponse,
): Outcome | Promise<Outcome> {
  const name = engine.options.header;
  const lines = headerLines(req, name);
  if (engine.passesForLackOfKey(lines)) return NEXT;
  return guardKeyedRequest(engine, req, res, { name, lines });
}

async function guardKeyedRequest(
  engine: IdempotencyEngine,
  req: IncomingMessage,
  res: ServerResponse,
  keyHeader: KnownHeader,
): Promise<Outcome> {
  let body: Buffer | undefined;
  if (engine.needsBody(req.method ?? "GET")) {
    const buffered = await bufferRequestBody(req, engine.options.maxRequestBodyBytes);
    if (buffered === TOO_LARGE) {
      sendProblem(
        res,
        problem("request-too-large", `the request body exceeds ${engine.options.maxRequestBodyBytes} bytes`),
      );
      return { next: false };
    }
    body = buffered;
  }
  const decision = await engine.begin(toIncomingRequest(req, body, keyHeader));
  switch (decision.action) {
    case "pass":
      return NEXT;
    case "respond":
      sendProblem(res, decision.response);
      return { next: false };
    case "replay":
      await sendReplay(res, decision.replay);
      return { next: false };
    case "execute":
      captureResponse(res, decision.execution);
      return { next: true, execution: decision.execution };
  }
}

/** A connect-style middleware: `(req, res, next)`. */
export type NodeMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

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
  return function oncelyIdempotency(req, res, next) {
    if (!engine.guards(req.method ?? "GET")) return next();
    const outcome = guardRequest(engine, req, res);
    if (outcome instanceof Promise) outcome.then((decided) => (decided.next ? next() : undefined), next);
    else if (outcome.next) next();
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
  return async function oncelyHandler(req, res) {
    let execution: Execution | undefined;
    try {
      if (engine.guards(req.method ?? "GET")) {
        const outcome = await guardRequest(engine, req, res);
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
