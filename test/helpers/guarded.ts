import type { IncomingMessage, ServerResponse } from "node:http";
import { withIdempotency } from "../../src/adapters/node/index.js";
import type { IdempotencyOptions } from "../../src/index.js";
import type { IdempotencyStore } from "../../src/store.js";
import { countingHandler, type GuardedServer, listen } from "./http.js";

type Respond = Parameters<typeof countingHandler>[0];

/** Serves a counting handler wrapped by oncely's Node adapter with `options` over `store`. */
export async function guardedServer(
  store: IdempotencyStore,
  options: Omit<IdempotencyOptions, "store"> = {},
  respond?: Respond,
): Promise<GuardedServer> {
  const counter = countingHandler(respond);
  const server = await listen(withIdempotency(counter.handler, { store, ...options }));
  return { ...server, count: counter.count };
}

export type { IncomingMessage, ServerResponse };
