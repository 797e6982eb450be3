import type { Server } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import type { SlotArray } from "../core/slot-array.js";
import type { RequestRecord } from "./request-record.js";

/** What a graceful shutdown did. */
export interface ShutdownReport {
  /** Requests that were in flight (or arrived on open connections) and finished within the grace period. */
  readonly finished: number;
  /** Requests cut off when the grace period ran out; the keys of those executing were released. */
  readonly abandoned: number;
}

/**
 * Stops `server` accepting connections, waits up to `graceMs` for the requests in
 * `inFlight` (which their handlers remove when done) and abandons the rest.
 */
export async function drain(
  server: Server,
  inFlight: SlotArray<RequestRecord>,
  graceMs: number,
): Promise<ShutdownReport> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const record of inFlight) record.closeConnectionAfterResponse();
  const deadline = Date.now() + graceMs;
  const seen = new Set<RequestRecord>();
  // Requests that arrive on connections that were already open join the set while we wait.
  while (inFlight.size > 0 && Date.now() < deadline) {
    for (const record of inFlight) seen.add(record);
    const grace = new AbortController();
    await Promise.race([
      Promise.all([...inFlight].map((record) => record.done)),
      sleep(deadline - Date.now(), undefined, { signal: grace.signal }).catch(() => {}),
    ]);
    grace.abort();
  }
  const abandoned = [...inFlight];
  for (const record of abandoned) seen.add(record);
  await Promise.all(abandoned.map((record) => record.abandon()));
  server.closeAllConnections();
  await closed;
  return { finished: seen.size - abandoned.length, abandoned: abandoned.length };
}
