// The soak's HTTP client: whole requests with their latency, and requests it abandons on
// purpose part-way (while sending the body, while the handler works, mid-response).
import { createHash } from "node:crypto";
import http, { type IncomingHttpHeaders } from "node:http";

/** A complete answer. */
export interface Answer {
  readonly status: number;
  readonly replayed: boolean;
  /** SHA-256 of the body bytes, to compare a replay with the original. */
  readonly digest: string;
  readonly bytes: number;
  readonly ms: number;
  /** The problem type of a problem+json answer (its last path segment, e.g. "store-unavailable"). */
  readonly problem: string | undefined;
}

/** Where an abandoned request is cut off. */
export type AbortPoint = "mid-body" | "before-response" | "mid-response";

/** Longest a single request may take before the soak counts it as an unexpected failure. */
const REQUEST_TIMEOUT_MS = 30_000;

/** A request got no complete answer within {@link REQUEST_TIMEOUT_MS}. */
export class RequestTimeoutError extends Error {
  constructor() {
    super(`no answer within ${REQUEST_TIMEOUT_MS} ms`);
    this.name = "RequestTimeoutError";
  }
}

/** Sends requests to one target over a keep-alive pool. */
export class SoakClient {
  readonly #url: URL;
  // Idle connections are closed after 1 s, well before the servers' 5 s keep-alive timeout:
  // a request sent on a connection the server is closing that moment would be reset.
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 256, timeout: 1000 });

  constructor(url: string) {
    this.#url = new URL(url);
  }

  /** POSTs `body` to `path` with `key` and waits for the whole answer; rejects on any network error. */
  send(path: string, key: string, body: string, headers: Record<string, string> = {}): Promise<Answer> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = this.#request(path, key, body, headers);
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new RequestTimeoutError()));
      req.once("error", reject);
      req.once("response", (res) => {
        const hash = createHash("sha256");
        const problem = res.headers["content-type"]?.includes("problem+json") ? ([] as Buffer[]) : undefined;
        let bytes = 0;
        res.on("data", (chunk: Buffer) => {
          hash.update(chunk);
          problem?.push(chunk);
          bytes += chunk.length;
        });
        res.once("error", reject);
        res.once("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            replayed: res.headers["x-idempotency-replayed"] === "true",
            digest: hash.digest("hex"),
            bytes,
            ms: performance.now() - started,
            problem: problem && problemType(Buffer.concat(problem)),
          }),
        );
      });
      req.end(body);
    });
  }

  /**
   * Sends a request and abandons it at `point`: half its body sent, the whole request sent
   * and `afterMs` passed without an answer, or the first bytes of the answer received.
   * Resolves once the connection is destroyed.
   */
  abandon(
    path: string,
    key: string,
    body: string,
    point: AbortPoint,
    headers: Record<string, string> = {},
    afterMs = 0,
  ): Promise<void> {
    return new Promise((resolve) => {
      const req = this.#request(path, key, body, headers);
      const cut = () => {
        req.destroy();
        resolve();
      };
      // Errors are ours (the connection is destroyed on purpose), or end the request early.
      req.on("error", cut);
      req.once("response", (res) => {
        res.on("error", () => {});
        if (point !== "mid-response") return cut();
        res.once("data", cut);
        res.once("end", cut);
      });
      if (point === "mid-body") {
        req.write(body.slice(0, Math.floor(body.length / 2)));
        setTimeout(cut, afterMs);
        return;
      }
      req.end(body);
      if (point === "before-response") setTimeout(cut, afterMs);
    });
  }

  close(): void {
    this.#agent.destroy();
  }

  #request(path: string, key: string, body: string, headers: Record<string, string>): http.ClientRequest {
    const requestHeaders: IncomingHttpHeaders = {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(body)),
      "idempotency-key": key,
      ...headers,
    };
    return http.request({
      host: this.#url.hostname,
      port: this.#url.port,
      method: "POST",
      path,
      headers: requestHeaders,
      agent: this.#agent,
    });
  }
}

function problemType(body: Buffer): string | undefined {
  try {
    const { type } = JSON.parse(body.toString("utf8")) as { type?: unknown };
    return typeof type === "string" ? type.split("/").at(-1) : undefined;
  } catch {
    return undefined;
  }
}
