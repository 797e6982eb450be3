/**
 * The fetch-standard layer: a Web `Request` in, the engine's decision carried out, a
 * `Response` out. Runs on any runtime with fetch's classes (Node, Bun, Deno, Workers,
 * browsers' service workers): no module of this layer imports a `node:` module.
 * @module
 */
import type { IdempotencyEngine } from "../../core/engine.js";
import type { Execution } from "../../core/execution.js";
import { problem } from "../../core/problems.js";
import { announcesTooMuch, uploadTooLarge } from "../upload-fingerprint.js";
import { hashedBody } from "./body-stream.js";
import { captureResponse } from "./capture.js";
import { bufferBody, headerLines, TOO_LARGE, toIncomingRequest } from "./request.js";
import { answerResponse, replayResponse } from "./respond.js";

/** What the adapter does after the engine has decided. */
export type FetchGuard =
  /** Answer with this response (a refusal or a replay); do not run the handler. */
  | { readonly action: "answer"; readonly response: Response }
  /**
   * Run the handler. With an execution, pass its response through {@link captureResponse}
   * (and call `execution.fail()` if the handler fails); without one, send it untouched.
   * With a `request`, the handler must read that one instead of the original: its body, too
   * large to buffer, is hashed on the way to the handler.
   */
  | { readonly action: "run"; readonly execution?: Execution; readonly request?: Request };

const RUN: FetchGuard = { action: "run" };

/** Reads a request's whole body, or answers {@link TOO_LARGE} past `limit` bytes. */
export type BodyReader = (limit: number) => Promise<Uint8Array | typeof TOO_LARGE>;

/**
 * Runs the engine for one request. The body is read only when the engine needs it, from a
 * copy of the request unless `readBody` says otherwise, so the handler still reads the
 * request itself. Rejects only when a user callback (`key`, `scope`, `fingerprint`) fails.
 * @param readBody reads the whole body, up to `limit` bytes, where the framework has a
 *   cheaper way than copying the request (a body cache its handlers read from)
 */
export async function guardFetchRequest(
  engine: IdempotencyEngine,
  request: Request,
  readBody: BodyReader = (limit) => bufferBody(request, limit),
): Promise<FetchGuard> {
  if (!engine.guards(request.method)) return RUN;
  if (engine.passesForLackOfKey(headerLines(request, engine.options.header))) return RUN;
  let body: Uint8Array | undefined;
  let hashed: ReturnType<typeof hashedBody> | undefined;
  const { options } = engine;
  if (engine.needsBody(request.method)) {
    const limit = options.maxRequestBodyBytes;
    const buffered = await readBody(limit);
    if (buffered !== TOO_LARGE) body = buffered;
    else if (!engine.streamsBody(request.method) || request.body === null) {
      const detail = `the request body exceeds ${limit} bytes`;
      return answer(answerResponse(problem("request-too-large", detail, undefined, [], options.errorFormat)));
    } else if (announcesTooMuch(request.headers.get("content-length"), options.maxUploadBytes)) {
      return answer(answerResponse(uploadTooLarge(options)));
    } else {
      const hasher = engine.bodyHasher(toIncomingRequest(request, undefined));
      hashed = hashedBody(request.body, hasher, options.maxUploadBytes);
    }
  }
  const incoming = toIncomingRequest(request, body);
  const decision = await engine.begin(
    hashed ? { ...incoming, bodyFingerprint: hashed.upload.fingerprint } : incoming,
  );
  switch (decision.action) {
    case "pass":
      return hashed ? { action: "run", request: withBody(request, hashed.body) } : RUN;
    case "respond":
      hashed?.upload.discardRest();
      return answer(answerResponse(decision.response));
    case "replay":
      return answer(await replayResponse(decision.replay, engine.options.storeBeforeSendBytes));
    case "execute":
      if (request.signal.aborted) {
        // The client left while its key was claimed: its body is gone, and so is its reader.
        await decision.execution.clientLeft();
        return answer(new Response(null, { status: 499 }));
      }
      return hashed
        ? { action: "run", execution: decision.execution, request: withBody(request, hashed.body) }
        : { action: "run", execution: decision.execution };
  }
}

/**
 * Guards one call of a fetch-style handler: the engine decides, `run` produces the
 * response when the handler must run, and its response is captured. A `run` that throws
 * releases the key (a retry executes again) and the error goes on to the caller.
 */
export async function guardFetch(
  engine: IdempotencyEngine,
  request: Request,
  run: (request: Request) => Response | Promise<Response>,
): Promise<Response> {
  const guard = await guardFetchRequest(engine, request);
  if (guard.action === "answer") return guard.response;
  const { execution } = guard;
  const guarded = guard.request ?? request;
  if (!execution) return run(guarded);
  try {
    return await captureResponse(execution, await run(guarded), request.signal);
  } catch (error) {
    await execution.fail();
    throw error;
  }
}

/** The request with `body` in place of its own, which the hasher reads now. */
function withBody(request: Request, body: ReadableStream<Uint8Array>): Request {
  // `duplex` is not yet in TypeScript's RequestInit; fetch requires it for a stream body.
  return new Request(request, { body, duplex: "half" } as RequestInit);
}

function answer(response: Response): FetchGuard {
  return { action: "answer", response };
}
