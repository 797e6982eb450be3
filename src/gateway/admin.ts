import type { IncomingMessage, ServerResponse } from "node:http";
import { problem } from "../core/problems.js";
import { sendWhole } from "../http/node/send.js";
import type { IdempotencyStore } from "../store.js";
import type { GatewayMetrics } from "./metrics.js";
import type { GatewayLogger } from "./options.js";

/** How long the health probe waits for the store before calling it unreachable. */
const PROBE_TIMEOUT_MS = 2000;

/** A record nobody writes: reading it proves the store answers without touching real keys. */
const PROBE = { scope: "oncely:health", key: "probe" } as const;

/**
 * The gateway's own endpoints under `prefix`, which are never proxied:
 * - `GET {prefix}/health`: 200 when the store answers, 503 when it does not;
 * - `GET {prefix}/metrics`: Prometheus text.
 *
 * Any other path under the prefix gets a 404 problem, any other method a 405 problem.
 *
 * Returns a handler that answers and returns true for paths under the prefix, false for the rest.
 */
export function adminEndpoints(
  prefix: string,
  store: IdempotencyStore,
  metrics: GatewayMetrics,
  logger: GatewayLogger | undefined,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const health = `${prefix}/health`;
  const metricsPath = `${prefix}/metrics`;
  // Built once: every proxied request is checked against them.
  const below = `${prefix}/`;
  const queried = `${prefix}?`;
  return function oncelyAdmin(req, res) {
    const url = req.url ?? "/";
    if (url !== prefix && !url.startsWith(below) && !url.startsWith(queried)) return false;
    const path = url.split("?", 1)[0];
    res.setHeader("cache-control", "no-store");
    if (path !== health && path !== metricsPath) {
      sendWhole(res, problem("not-found", `no such endpoint; try ${health} or ${metricsPath}`));
    } else if (req.method !== "GET" && req.method !== "HEAD") {
      sendWhole(res, problem("method-not-allowed", "only GET and HEAD", undefined, [["allow", "GET, HEAD"]]));
    } else if (path === health) {
      void probeStore(store).then((failure) => {
        if (failure === undefined) return sendJson(res, 200, { status: "ok", store: "reachable" });
        logger?.warn({ err: failure }, "health check: the store is unreachable");
        sendJson(res, 503, { status: "unavailable", store: "unreachable" });
      });
    } else {
      metrics.render().then(
        ({ contentType, body }) => {
          res.setHeader("content-type", contentType);
          res.end(body);
        },
        (error: unknown) => {
          logger?.error({ err: error }, "metrics could not be rendered");
          sendWhole(res, problem("internal-error", "metrics could not be rendered"));
        },
      );
    }
    return true;
  };
}

/** Undefined when the store answered in time, else what went wrong. */
async function probeStore(store: IdempotencyStore): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Error>((resolve) => {
    timer = setTimeout(() => resolve(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([store.get(PROBE).then(() => undefined), timeout]);
  } catch (error) {
    return error;
  } finally {
    clearTimeout(timer);
  }
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify(body));
}
