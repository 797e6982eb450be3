/**
 * Sending what oncely answers itself on a Node response: a problem, a webhook helper's
 * answer, or a stored response replayed.
 * @module
 */
import type { ServerResponse } from "node:http";
import type { ProblemResponse } from "../../core/problems.js";
import type { Replay } from "../../core/replay.js";
import type { HeaderPair } from "../../store.js";

/** A small response sent whole: an engine problem+json answer is one. */
export type WholeResponse = ProblemResponse;

/** Writes a small response in one piece. */
export function sendWhole(res: ServerResponse, response: WholeResponse): void {
  res.statusCode = response.status;
  setHeaders(res, response.headers);
  res.end(response.body);
}

/**
 * Streams a stored response to the client, honouring backpressure. If the stored body
 * vanishes mid-way the connection is destroyed, so the client sees a truncated response
 * rather than a wrong one.
 */
export async function sendReplay(res: ServerResponse, replay: Replay): Promise<void> {
  res.statusCode = replay.status;
  setHeaders(res, replay.headers);
  try {
    for await (const chunk of replay.body) {
      if (!res.write(chunk) && !res.destroyed) await drainedOrClosed(res);
      if (res.destroyed) return;
    }
    res.end();
  } catch (error) {
    res.destroy(error instanceof Error ? error : new Error(String(error)));
  }
}

/** Sets header pairs, grouping repeated names so none overwrites another. */
function setHeaders(res: ServerResponse, headers: readonly HeaderPair[]): void {
  const grouped = new Map<string, string[]>();
  for (const [name, value] of headers) {
    const values = grouped.get(name);
    if (values) values.push(value);
    else grouped.set(name, [value]);
  }
  for (const [name, values] of grouped)
    res.setHeader(name, values.length === 1 ? (values[0] as string) : values);
}

/**
 * Resolves on the response's next 'drain' or 'close', and removes both listeners then: a
 * long response waits many times, and listeners left behind would pile up on it.
 */
export function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
