import http, { type ClientRequest, type IncomingMessage } from "node:http";
import https from "node:https";
import type { Duplex } from "node:stream";
import {
  ClientAbortedError,
  UploadTooLargeError,
  UpstreamTimeoutError,
  UpstreamUnreachableError,
} from "./errors.js";
import { upstreamRequestHeaders } from "./headers.js";
import { StreamedBody } from "./streamed-body.js";

/** One request on its way upstream. */
export interface Exchange {
  /**
   * Settles once the upstream's response headers arrived, or with an `UpstreamError`, a
   * {@link ClientAbortedError} or (for a streamed body) an {@link UploadTooLargeError}.
   */
  readonly response: Promise<IncomingMessage>;
  /** Cuts the upstream connection (used only when a shutdown's grace period ran out). */
  abort(): void;
}

/** Methods that change nothing upstream (RFC 9110 §9.2.1), so sending one twice repeats no execution. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

/** What a pooled connection that the upstream had already closed fails with, before any answer. */
const STALE_CONNECTION_CODES = new Set(["ECONNRESET", "EPIPE"]);

/**
 * The HTTP API behind the gateway, reached over a keep-alive connection pool with
 * `node:http`, without a dependency: undici's pool spent about 10% less CPU per request in a
 * minimal proxy on the project machine, a gain that does not yet pay for moving this file's
 * retry and socket handling over.
 *
 * A connection goes back to the pool only when it is known to be clean. An upstream may
 * answer before it has read the whole request body (a 401, 413 or 415 refuses the body
 * unread) and leave the rest of the body in the connection, where the next request would
 * sit behind it until the upstream times the connection out. The gateway cannot see how
 * much of the body the upstream read, so a connection whose request carried a body is
 * closed after an answer that came before the body was sent, or that is an error (4xx/5xx):
 * the answers of servers that refuse a body. The cost is one new connection on those paths.
 */
export class Upstream {
  readonly #url: URL;
  readonly #basePath: string;
  readonly #timeoutMs: number;
  readonly #client: typeof http | typeof https;
  readonly #agent: http.Agent;
  /** Connections that must not be reused; the agent closes them instead of pooling them. */
  readonly #unclean = new WeakSet<Duplex>();

  /**
   * @param url where requests go; its path is prepended to each request's path
   * @param timeoutMs longest silence before the response headers and between body chunks
   */
  constructor(url: URL, timeoutMs: number) {
    this.#url = url;
    this.#basePath = url.pathname.replace(/\/$/, "");
    this.#timeoutMs = timeoutMs;
    this.#client = url.protocol === "https:" ? https : http;
    const unclean = this.#unclean;
    const Agent: typeof http.Agent = this.#client.Agent;
    // keepSocketAlive is the Agent's documented hook: a false result closes the connection.
    this.#agent = new (class extends Agent {
      override keepSocketAlive(socket: Duplex): boolean {
        if (unclean.has(socket)) return false;
        // Node's own answer is false when the upstream's Keep-Alive hint leaves too little
        // time to reuse the connection safely (@types/node types it void): honoured, or the
        // next request races the upstream closing it, and a guarded one fails with 502.
        const keep: unknown = super.keepSocketAlive(socket);
        return keep !== false;
      }
    })({ keepAlive: true, scheduling: "lifo" });
  }

  /**
   * Forwards `req` — method, path, end-to-end headers and the body: `body` when the guard
   * already read it for the fingerprint, else as it streams in.
   * The upstream call is never tied to the client's connection: once the request is
   * complete, a client that goes away does not cancel it — even when it left before the
   * call began (while its key was being claimed), as long as its body is at hand. Only a
   * client that leaves before its body is complete aborts it, since the upstream must never
   * act on half a request.
   *
   * A request that fails on a reused pooled connection before any answer (the upstream had
   * closed it meanwhile) is sent once more on a new connection — but only an unguarded
   * request with a safe method and no body, which cannot execute anything twice. A guarded
   * request is never resent: its first attempt may have reached the upstream.
   * @param guarded whether the engine guards the request (an execution holds its key)
   * @param body the whole request body, when it was already read; or the body too large to
   *   hold, streamed on as it arrives (a client that leaves before its end cuts the call)
   */
  send(req: IncomingMessage, guarded: boolean, body?: Buffer | StreamedBody): Exchange {
    const withBody = body === undefined ? hasBody(req) : body instanceof StreamedBody || body.length > 0;
    const resendable = !guarded && !withBody && SAFE_METHODS.has(req.method ?? "GET");
    let outgoing = this.#forward(req, withBody, this.#agent);
    const response = new Promise<IncomingMessage>((resolve, reject) => {
      const settle = (attempt: ClientRequest, retried: boolean) => {
        attempt.once("response", resolve);
        // Errors after the response started surface on the response stream instead.
        attempt.on("error", (error: NodeJS.ErrnoException) => {
          if (
            !retried &&
            resendable &&
            attempt.reusedSocket &&
            STALE_CONNECTION_CODES.has(error.code ?? "")
          ) {
            // A one-off connection: the pool's next one may be just as stale. No body to send.
            outgoing = this.#forward(req, false, false);
            settle(outgoing, true);
            outgoing.end();
            return;
          }
          reject(
            error instanceof UpstreamTimeoutError ||
              error instanceof ClientAbortedError ||
              error instanceof UploadTooLargeError
              ? error
              : new UpstreamUnreachableError({ cause: error }),
          );
        });
      };
      settle(outgoing, false);
    });
    if (body instanceof StreamedBody) {
      body.forwardTo(outgoing);
    } else if (body !== undefined) {
      // The guard put the bytes back into the request as well; they are sent from here, so
      // a client gone meanwhile (its request destroyed with them) loses nothing.
      req.resume();
      outgoing.end(body);
    } else if (!withBody) {
      req.resume();
      outgoing.end();
    } else if (req.destroyed) {
      // The client left before anyone read its body: nothing whole can be sent.
      outgoing.destroy(new ClientAbortedError());
    } else {
      req.once("close", () => {
        if (!req.readableEnded) outgoing.destroy(new ClientAbortedError());
      });
      req.pipe(outgoing);
    }
    return { response, abort: () => outgoing.destroy() };
  }

  /** Closes the pooled connections. */
  close(): void {
    this.#agent.destroy();
  }

  /** Starts one attempt; the caller pipes the body or ends it. */
  #forward(req: IncomingMessage, withBody: boolean, agent: http.Agent | false): ClientRequest {
    const outgoing = this.#client.request({
      protocol: this.#url.protocol,
      hostname: this.#url.hostname,
      port: this.#url.port,
      method: req.method ?? "GET",
      path: this.#basePath + originForm(req.url ?? "/"),
      headers: upstreamRequestHeaders(req, this.#url.host),
      agent,
    });
    outgoing.setTimeout(this.#timeoutMs, () => outgoing.destroy(new UpstreamTimeoutError(this.#timeoutMs)));
    if (withBody) {
      outgoing.once("response", (upstream: IncomingMessage) => {
        const early = !outgoing.writableFinished;
        if (early || (upstream.statusCode ?? 500) >= 400) this.#unclean.add(upstream.socket);
      });
    }
    return outgoing;
  }
}

/** Whether a request carries a body (RFC 9112 §6.3: a `Transfer-Encoding`, or a non-zero `Content-Length`). */
function hasBody(req: IncomingMessage): boolean {
  if (req.headers["transfer-encoding"] !== undefined) return true;
  const length = req.headers["content-length"];
  return length !== undefined && length !== "0";
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
