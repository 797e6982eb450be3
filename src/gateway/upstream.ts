import http, { type ClientRequest, type IncomingMessage } from "node:http";
import https from "node:https";
import { ClientAbortedError, UpstreamTimeoutError, UpstreamUnreachableError } from "./errors.js";
import { upstreamRequestHeaders } from "./headers.js";

/** One request on its way upstream. */
export interface Exchange {
  /** Settles once the upstream's response headers arrived, or with an `UpstreamError` / {@link ClientAbortedError}. */
  readonly response: Promise<IncomingMessage>;
  /** Cuts the upstream connection (used only when a shutdown's grace period ran out). */
  abort(): void;
}

/**
 * The HTTP API behind the gateway, reached over a keep-alive connection pool with
 * `node:http` (measured as fast as undici for this job, without a dependency).
 */
export class Upstream {
  readonly #url: URL;
  readonly #basePath: string;
  readonly #timeoutMs: number;
  readonly #client: typeof http | typeof https;
  readonly #agent: http.Agent;

  /**
   * @param url where requests go; its path is prepended to each request's path
   * @param timeoutMs longest silence before the response headers and between body chunks
   */
  constructor(url: URL, timeoutMs: number) {
    this.#url = url;
    this.#basePath = url.pathname.replace(/\/$/, "");
    this.#timeoutMs = timeoutMs;
    this.#client = url.protocol === "https:" ? https : http;
    this.#agent = new this.#client.Agent({ keepAlive: true, scheduling: "lifo" });
  }

  /**
   * Forwards `req` — method, path, end-to-end headers and the body as it streams in.
   * The upstream call is never tied to the client's connection: once the request is
   * complete, a client that goes away does not cancel it. Only a client that leaves
   * before its body is complete aborts it, since the upstream must never act on half a
   * request.
   */
  send(req: IncomingMessage): Exchange {
    const outgoing: ClientRequest = this.#client.request({
      protocol: this.#url.protocol,
      hostname: this.#url.hostname,
      port: this.#url.port,
      method: req.method ?? "GET",
      path: this.#basePath + originForm(req.url ?? "/"),
      headers: upstreamRequestHeaders(req, this.#url.host),
      agent: this.#agent,
    });
    const response = new Promise<IncomingMessage>((resolve, reject) => {
      outgoing.once("response", resolve);
      // Errors after the response started surface on the response stream instead.
      outgoing.on("error", (error) =>
        reject(
          error instanceof UpstreamTimeoutError || error instanceof ClientAbortedError
            ? error
            : new UpstreamUnreachableError({ cause: error }),
        ),
      );
    });
    outgoing.setTimeout(this.#timeoutMs, () => outgoing.destroy(new UpstreamTimeoutError(this.#timeoutMs)));
    req.once("close", () => {
      if (!req.readableEnded) outgoing.destroy(new ClientAbortedError());
    });
    req.pipe(outgoing);
    return { response, abort: () => outgoing.destroy() };
  }

  /** Closes the pooled connections. */
  close(): void {
    this.#agent.destroy();
  }
}

/** The path and query of a request target; an absolute-form target (`http://host/p`) is reduced to `/p`. */
function originForm(target: string): string {
  if (target.startsWith("/")) return target;
  try {
    const url = new URL(target);
    return url.pathname + url.search;
  } catch {
    return `/${target}`;
  }
}
