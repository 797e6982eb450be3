/**
 * One guarded Node request from start to decision: what the Node and Express adapters and
 * the gateway all do before the handler (or the upstream) runs.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { IdempotencyEngine } from "../../core/engine.js";
import type { Execution } from "../../core/execution.js";
import { problem } from "../../core/problems.js";
import { bufferRequestBody, TOO_LARGE } from "./body.js";
import { captureResponse } from "./capture.js";
import { headerLines, toIncomingRequest } from "./request.js";
import { sendReplay, sendWhole } from "./send.js";

/** A connect-style middleware: `(req, res, next)`. */
export type NodeMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/**
 * What the caller does once the engine has decided: run the handler (`next: true`; with
 * an execution, its response is captured), or nothing, because oncely answered. `body` is
 * the request body when it was read for the fingerprint (it was also put back into the request).
 */
export type Outcome =
  | { readonly next: false }
  | { readonly next: true; readonly execution?: Execution; readonly body?: Buffer };

/** How the caller hands the request on. */
export interface GuardOptions {
  /**
   * The caller sends the body of {@link Outcome} itself (the gateway forwards it), so a
   * client that left while its key was claimed still has its request executed. Otherwise
   * the handler reads the request, whose body is gone with the client: the key is let go
   * and nothing runs. @default false
   */
  readonly sendsBody?: boolean;
}

const NEXT: Outcome = { next: true };
const ANSWERED: Outcome = { next: false };

/**
 * Runs the engine for one Node request of a guarded method and carries out its decision:
 * answers a replay or a problem itself, or resolves with `next: true` when the handler
 * must run. A request that passes for want of a key is handed on with its body unread.
 * Rejects when the client left while its body was read, or a user callback threw.
 */
export async function guardRequest(
  engine: IdempotencyEngine,
  req: IncomingMessage,
  res: ServerResponse,
  { sendsBody = false }: GuardOptions = {},
): Promise<Outcome> {
  const keyHeader = { name: engine.options.header, lines: headerLines(req, engine.options.header) };
  if (engine.passesForLackOfKey(keyHeader.lines)) return NEXT;
  let body: Buffer | undefined;
  if (engine.needsBody(req.method ?? "GET")) {
    const limit = engine.options.maxRequestBodyBytes;
    const buffered = await bufferRequestBody(req, limit);
    if (buffered === TOO_LARGE) {
      const detail = `the request body exceeds ${limit} bytes`;
      sendWhole(res, problem("request-too-large", detail, undefined, [], engine.options.errorFormat));
      return ANSWERED;
    }
    body = buffered;
  }
  const decision = await engine.begin(toIncomingRequest(req, body, keyHeader));
  switch (decision.action) {
    case "pass":
      return body === undefined ? NEXT : { next: true, body };
    case "respond":
      sendWhole(res, decision.response);
      return ANSWERED;
    case "replay":
      await sendReplay(res, decision.replay);
      return ANSWERED;
    case "execute":
      if (!sendsBody && body !== undefined && body.length > 0 && req.destroyed && !req.readableEnded) {
        // The client left and Node dropped the body put back for the handler, unread.
        await decision.execution.clientLeft();
        return ANSWERED;
      }
      captureResponse(res, decision.execution);
      return body === undefined
        ? { next: true, execution: decision.execution }
        : { next: true, execution: decision.execution, body };
  }
}
