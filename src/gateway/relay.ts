import type { IncomingMessage, ServerResponse } from "node:http";
import type { Execution } from "../core/execution.js";
import { drainedOrClosed } from "../http/node/send.js";
import { copyResponseHead } from "./headers.js";

/**
 * Writes the upstream's response into the client's response as it arrives. When the
 * request is guarded, the Node HTTP layer's capture sits on `res` and stores what passes
 * (unless the upstream said `storeHeader: no`). The `storeHeader` never reaches the client.
 *
 * The upstream body is read to the end even when the client has gone away: the capture
 * still stores it, so the client's retry is a replay and not a second execution. Memory
 * stays bounded because reading waits whenever the client's socket or the store is behind.
 * Rejects when the upstream response breaks off.
 */
export async function relayResponse(
  upstream: IncomingMessage,
  res: ServerResponse,
  execution: Execution | undefined,
  storeHeader: string,
): Promise<void> {
  copyResponseHead(upstream, res);
  // The upstream's word to the gateway; the capture removes it from guarded responses.
  if (!execution) res.removeHeader(storeHeader);
  for await (const chunk of upstream) {
    if (!res.write(chunk as Buffer)) await writable(res, execution);
  }
  res.end();
}

/**
 * Resolves when writing may go on. While the client is connected the capture reports
 * both its socket and the store through `drain`; once the client is gone only the store
 * can be behind, and there is nobody left to wait for otherwise.
 */
function writable(res: ServerResponse, execution: Execution | undefined): Promise<void> {
  if (!res.destroyed) return drainedOrClosed(res);
  return new Promise((resolve) => {
    if (execution) execution.onDrain(resolve);
    else resolve();
  });
}
