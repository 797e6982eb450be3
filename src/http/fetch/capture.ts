/**
 * Capturing the `Response` a handler produced, so the execution stores what the client gets.
 * @module
 */
import type { Execution } from "../../core/execution.js";
import { BodyTap } from "../body-tap.js";
import { headerPairs } from "./respond.js";

/**
 * Hands the handler's response to the execution and returns the response to send.
 *
 * - A status the engine does not store: the key is released first (so a client retrying
 *   on this answer never finds it held) and the response goes out untouched.
 * - A body of known, small length: read whole and stored before it is sent, so a crash in
 *   between never loses the record.
 * - Any other body: sent as it streams and stored chunk by chunk on the way, at the pace
 *   of the slower of the client and the store. A client that leaves does not stop the
 *   capture: the rest of the body is still read and stored, as it would have been sent.
 *
 * Rejects when the body fails or `shouldStore` throws; the caller then fails the execution.
 * @param client aborted when the client went away (the request's `signal`)
 */
export async function captureResponse(
  execution: Execution,
  response: Response,
  client?: AbortSignal,
): Promise<Response> {
  const declared = response.headers.get("content-length");
  const length = response.body === null ? 0 : declared === null ? undefined : Number(declared);
  const plan = await execution.respond(response.status, headerPairs(response.headers), length);
  // The store header is meant for oncely, never for the client.
  const marked = response.headers.has(execution.storeHeader);
  const headers = marked ? withoutHeader(response.headers, execution.storeHeader) : response.headers;
  const init = { status: response.status, statusText: response.statusText, headers };
  if (plan === "pass") return marked ? new Response(response.body, init) : response;
  if (plan === "store-first" || response.body === null) {
    const body = response.body === null ? null : new Uint8Array(await response.arrayBuffer());
    if (body) execution.write(body);
    await execution.finish();
    return new Response(body, init);
  }
  return new Response(tee(response.body, execution, client), init);
}

/** A stream that passes the handler's body on and writes every chunk to the execution. */
function tee(
  source: ReadableStream<Uint8Array>,
  execution: Execution,
  client: AbortSignal | undefined,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  const tap = new BodyTap(
    { next: () => reader.read() as Promise<IteratorResult<Uint8Array>> },
    execution,
    () => client?.aborted === true,
  );
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const chunk = await tap.next();
        if (chunk) controller.enqueue(chunk);
        else controller.close();
      },
      cancel() {
        tap.abandon();
      },
    },
    { highWaterMark: 0 },
  );
}

function withoutHeader(headers: Headers, name: string): Headers {
  const copy = new Headers(headers);
  copy.delete(name);
  return copy;
}
