import { Readable } from "node:stream";
import type { FastifyReply } from "fastify";
import type { ProblemResponse } from "../../core/problems.js";
import type { Replay } from "../../core/replay.js";
import { statusHasNoBody } from "../../core/response-headers.js";

/**
 * Answers through `reply.send`, so Fastify's own hooks and serialisation rules apply: a
 * problem+json refusal, or a stored response. A stored body of at most `wholeBytes` is
 * read first and sent in one piece; a larger one streams from the store as the client reads.
 */
export async function sendAnswer(
  reply: FastifyReply,
  answer: ProblemResponse | Replay,
  wholeBytes = 0,
): Promise<void> {
  reply.code(answer.status);
  const grouped = new Map<string, string[]>();
  for (const [name, value] of answer.headers) {
    const values = grouped.get(name);
    if (values) values.push(value);
    else grouped.set(name, [value]);
  }
  for (const [name, values] of grouped) reply.header(name, values.length === 1 ? values[0] : values);
  // A Buffer: Fastify would add a charset to a string's JSON content type.
  if (typeof answer.body === "string") reply.send(Buffer.from(answer.body));
  else if (statusHasNoBody(answer.status)) reply.send();
  else if (Number(reply.getHeader("content-length")) > wholeBytes)
    reply.send(Readable.from(answer.body, { objectMode: false }));
  else {
    const chunks: Uint8Array[] = [];
    for await (const chunk of answer.body) chunks.push(chunk);
    reply.send(Buffer.concat(chunks));
  }
}
