import type { GatewayLogger } from "./options.js";
import type { RequestRecord } from "./request-record.js";

/**
 * Writes the one line a request gets: what it was, what happened, how long it took. The
 * key and the scope (a hash, never the credential) identify the record; the query string
 * is left out because APIs sometimes carry secrets in it.
 */
export function logRequest(logger: GatewayLogger, record: RequestRecord): void {
  logger.info(
    {
      method: record.method,
      path: record.path,
      status: record.status,
      outcome: record.outcome,
      ...(record.key === undefined ? {} : { key: record.key, scope: record.scope }),
      ms: Math.round(record.durationMs * 10) / 10,
    },
    "request",
  );
}
