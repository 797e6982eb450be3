/**
 * Fetch `Response`s for the engine's answers: a problem+json refusal, or a stored response
 * replayed byte for byte.
 * @module
 */
import { concatBytes } from "../../core/bytes.js";
import type { Replay } from "../../core/replay.js";
import { statusHasNoBody } from "../../core/response-headers.js";
import type { HeaderPair } from "../../store.js";

/** A fixed answer written whole: the engine's problem+json, or an `oncely/events` helper's. */
export interface FixedAnswer {
  readonly status: number;
  readonly headers: ReadonlyArray<readonly [string, string]> | Readonly<Record<string, string>>;
  readonly body: string;
}

/** A fixed answer as a `Response`. */
export function answerResponse(answer: FixedAnswer): Response {
  return new Response(answer.body, { status: answer.status, headers: toHeaders(answer.headers) });
}

/**
 * A stored response as a `Response`. A body of at most `wholeBytes` is read from the store
 * first and sent in one piece (a stream costs more than small bodies are worth); a larger
 * one streams chunk by chunk, read only as fast as the client takes it. If the stored body
 * vanishes mid-way the stream fails, so the client sees a truncated response rather than
 * a wrong one.
 */
export async function replayResponse(replay: Replay, wholeBytes: number): Promise<Response> {
  const init = { status: replay.status, headers: toHeaders(replay.headers) };
  if (statusHasNoBody(replay.status)) return new Response(null, init);
  if (Number(init.headers.get("content-length")) > wholeBytes)
    return new Response(streamOf(replay.body), init);
  const chunks: Uint8Array[] = [];
  for await (const chunk of replay.body) chunks.push(chunk);
  return new Response(chunks.length === 1 ? chunks[0] : concatBytes(chunks), init);
}

/** Header pairs (or a record) as `Headers`, repeated names kept as repeated lines. */
export function toHeaders(pairs: FixedAnswer["headers"]): Headers {
  const headers = new Headers();
  for (const [name, value] of isPairs(pairs) ? pairs : Object.entries(pairs)) headers.append(name, value);
  return headers;
}

function isPairs(headers: FixedAnswer["headers"]): headers is ReadonlyArray<readonly [string, string]> {
  return Array.isArray(headers);
}

/** Every header line of a `Headers`: names lower-cased, each `Set-Cookie` apart (fetch joins the others). */
export function headerPairs(headers: Headers): HeaderPair[] {
  const pairs: HeaderPair[] = [];
  for (const pair of headers) pairs.push(pair);
  return pairs;
}

function streamOf(chunks: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const iterator = chunks[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await iterator.next();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      async cancel() {
        await iterator.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}
