import type { IncomingMessage, ServerResponse } from "node:http";
import type { Execution } from "../core/execution.js";
import { drainedOrClosed } from "../http/node/send.js";
import { copyResponseHead, writeResponseHead } from "./headers.js";

/** The upstream's response ended before its last byte. */
class BrokenResponseError extends Error {
  constructor() {
    super("the upstream's response broke off");
  }
}

/**
 * Writes the upstream's response into the client's response as it arrives. When the
 * request is guarded, the Node HTTP layer's capture sits on `res` and stores what passes
 * (unless the upstream said `storeHeader: no`). The `storeHeader` never reaches the client.
 *
 * The upstream body is read to the end even when the client has gone away: the capture
 * still stores it, so the client's retry is a replay and not a second execution. Memory
 * stays bounded because reading pauses whenever the client's socket or the store is behind.
 * Chunks are relayed from `data` events rather than an async iterator: no promise per chunk.
 * Rejects when the upstream response breaks off.
 * @param storeHeader the `storeHeader` option, lower-cased, in a set
 */
export function relayResponse(
  upstream: IncomingMessage,
  res: ServerResponse,
  execution: Execution | undefined,
  storeHeader: ReadonlySet<string>,
): Promise<void> {
  // The upstream's word to the gateway; the capture removes it from guarded responses.
  if (execution) copyResponseHead(upstream, res);
  else writeResponseHead(upstream, res, storeHeader);
  return new Promise((resolve, reject) => {
    const resume = () => upstream.resume();
    upstream.on("data", (chunk: Buffer) => {
      if (res.write(chunk)) return;
      upstream.pause();
      writable(res, execution, resume);
    });
    upstream.once("end", () => {
      res.end();
      resolve();
    });
    upstream.once("error", reject);
    upstream.once("close", () => {
      if (!upstream.readableEnded) reject(new BrokenResponseError());
    });
  });
}

/**
 * Calls `resume` when writing may go on. While the client is connected the capture reports
 * both its socket and the store through `drain`; once the client is gone only the store
 * can be behind, and there is nobody left to wait for otherwise.
 */
function writable(res: ServerResponse, execution: Execution | undefined, resume: () => void): void {
  if (!res.destroyed) void drainedOrClosed(res).then(resume);
  else if (execution) execution.onDrain(resume);
  else resume();
}
