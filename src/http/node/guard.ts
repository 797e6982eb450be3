/**
 * One guarded Node request from start to decision: what the Node and Express adapters and
 * the gateway all do before the handler (or the upstream) runs.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Decision, IdempotencyEngine } from "../../core/engine.js";
import type { Execution } from "../../core/execution.js";
import type { BodyFingerprintHasher } from "../../core/hashing.js";
import { type ProblemResponse, problem } from "../../core/problems.js";
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

/** A request body that streams on while it is hashed; see `IncomingRequest.bodyFingerprint`. */
export interface StreamingBody {
  fingerprint(): Promise<string>;
}

/**
 * How a body larger than `maxRequestBodyBytes` goes on when the engine allows streaming it
 * (`engine.streamsBody`): a body that the caller streams to the handler, hashing it with
 * `hasher` on the way, or a problem to refuse it with. Without one such a body gets 413.
 */
export type BodyStreamer<S extends StreamingBody> = (
  req: IncomingMessage,
  hasher: BodyFingerprintHasher,
  res: ServerResponse,
) => S | ProblemResponse;

/**
 * What the caller does once the engine has decided: run the handler (`next: true`; with
 * an execution, its response is captured), or nothing, because oncely answered. `body` is
 * the request body when it was read for the fingerprint (it was also put back into the
 * request); `streamed` the body that the caller's streamer started, for the handler to read.
 * `decision` is the engine's, when the request got that far (not when it passed for want of
 * a key, or was refused for its size): what a caller logs or counts the request as.
 */
export type Outcome<S extends StreamingBody = never> =
  | { readonly next: false; readonly decision?: Decision }
  | {
      readonly next: true;
      readonly decision?: Decision;
      readonly execution?: Execution;
      readonly body?: Buffer;
      readonly streamed?: S;
    };

/** How the caller hands the request on. */
export interface GuardOptions<S extends StreamingBody = never> {
  /**
   * The caller sends the body of {@link Outcome} itself (the gateway forwards it), so a
   * client that left while its key was claimed still has its request executed. Otherwise
   * the handler reads the request, whose body is gone with the client: the key is let go
   * and nothing runs. @default false
   */
  readonly sendsBody?: boolean;
  /** Streams a body larger than `maxRequestBodyBytes` on instead of refusing it with 413. */
  readonly streamer?: BodyStreamer<S>;
}

const NEXT: Outcome = { next: true };
const ANSWERED: Outcome = { next: false };

/**
 * Runs the engine for one Node request of a guarded method and carries out its decision:
 * answers a replay or a problem itself, or resolves with `next: true` when the handler
 * must run. A request that passes for want of a key is handed on with its body unread.
 * Rejects when the client left while its body was read, a streamed body failed before a
 * completed record could answer it, or a user callback threw.
 */
export async function guardRequest<S extends StreamingBody = never>(
  engine: IdempotencyEngine,
  req: IncomingMessage,
  res: ServerResponse,
  { sendsBody = false, streamer }: GuardOptions<S> = {},
): Promise<Outcome<S>> {
  const keyHeader = { name: engine.options.header, lines: headerLines(req, engine.options.header) };
  if (engine.passesForLackOfKey(keyHeader.lines)) return NEXT;
  let body: Buffer | undefined;
  let streamed: S | undefined;
  const method = req.method ?? "GET";
  if (engine.needsBody(method)) {
    const limit = engine.options.maxRequestBodyBytes;
    const buffered = await bufferRequestBody(req, limit);
    if (buffered !== TOO_LARGE) body = buffered;
    else if (streamer && engine.streamsBody(method)) {
      const started = streamer(req, engine.bodyHasher(toIncomingRequest(req, undefined)), res);
      if (!("fingerprint" in started)) {
        sendWhole(res, started);
        return ANSWERED;
      }
      streamed = started;
    } else {
      const detail = `the request body exceeds ${limit} bytes`;
      sendWhole(res, problem("request-too-large", detail, undefined, [], engine.options.errorFormat));
      return ANSWERED;
    }
  }
  const request = toIncomingRequest(req, body, keyHeader);
  const decision = await engine.begin(
    streamed ? { ...request, bodyFingerprint: streamed.fingerprint } : request,
  );
  switch (decision.action) {
    case "pass":
      // A streamed body was left unread: the handler reads it from the request.
      return body === undefined ? { next: true, decision } : { next: true, decision, body };
    case "respond":
      sendWhole(res, decision.response);
      return { next: false, decision };
    case "replay":
      await sendReplay(res, decision.replay);
      return { next: false, decision };
    case "execute":
      if (!sendsBody && body !== undefined && body.length > 0 && req.destroyed && !req.readableEnded) {
        // The client left and Node dropped the body put back for the handler, unread.
        await decision.execution.clientLeft();
        return { next: false, decision };
      }
      captureResponse(res, decision.execution);
      if (streamed) return { next: true, decision, execution: decision.execution, streamed };
      return body === undefined
        ? { next: true, decision, execution: decision.execution }
        : { next: true, decision, execution: decision.execution, body };
  }
}
