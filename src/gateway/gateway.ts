import { once } from "node:events";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createEngine, type IdempotencyEngine } from "../core/engine.js";
import type { Execution } from "../core/execution.js";
import type { BodyFingerprintHasher } from "../core/hashing.js";
import { problem } from "../core/problems.js";
import { SlotArray } from "../core/slot-array.js";
import { createDashboard, type Dashboard } from "../dashboard/dashboard.js";
import { clientErrorResponder } from "../http/node/client-error.js";
import { guardRequest, type Outcome } from "../http/node/guard.js";
import { headerLines } from "../http/node/request.js";
import { sendWhole } from "../http/node/send.js";
import { uploadTooLarge } from "../http/upload-fingerprint.js";
import { adminEndpoints } from "./admin.js";
import { UploadTooLargeError, UpstreamError } from "./errors.js";
import { GatewayMetrics } from "./metrics.js";
import { observingHooks } from "./observe.js";
import { type GatewayOptions, type ResolvedGatewayOptions, resolveGatewayOptions } from "./options.js";
import { relayResponse } from "./relay.js";
import { logRequest } from "./request-log.js";
import { RequestRecord } from "./request-record.js";
import { drain, type ShutdownReport } from "./shutdown.js";
import { StreamedBody } from "./streamed-body.js";
import { Upstream } from "./upstream.js";

/**
 * A reverse proxy that gives any HTTP API idempotency keys. Guarded requests go through
 * the engine exactly as in the Node adapter (the shared Node HTTP layer's `guardRequest`): a replay or a
 * problem is answered here, an execution is forwarded and the upstream's response is
 * captured on its way back. Every other request is proxied untouched.
 *
 * @example
 * const gateway = createGateway({ upstream: "http://127.0.0.1:3000", store: await createStore("sqlite:./oncely.db") });
 * await gateway.listen(8080, "127.0.0.1");
 * process.once("SIGTERM", () => gateway.close(10_000));
 */
export class Gateway {
  /** The engine, with the gateway's hooks in front of the user's. */
  readonly engine: IdempotencyEngine;
  readonly metrics: GatewayMetrics;
  /** The HTTP server; {@link listen} starts it. */
  readonly server: http.Server;
  readonly #options: ResolvedGatewayOptions;
  readonly #upstream: Upstream;
  readonly #admin: (req: IncomingMessage, res: ServerResponse) => boolean;
  readonly #dashboard: Dashboard | undefined;
  /** Not a `Set`, which costs garbage-collection time on this path (see `SlotArray`). */
  readonly #inFlight = new SlotArray<RequestRecord>();
  /** The `storeHeader`, never relayed to the client. */
  readonly #storeHeader: ReadonlySet<string>;
  #closing: Promise<ShutdownReport> | undefined;

  /** @throws {InvalidOptionError} when an option is invalid */
  constructor(options: GatewayOptions) {
    this.#options = resolveGatewayOptions(options);
    const { engine, upstream, upstreamTimeout, adminPrefix, logger, dashboard } = this.#options;
    this.metrics = new GatewayMetrics(() => this.#countInFlight());
    this.#dashboard =
      dashboard && createDashboard({ ...dashboard, store: engine.store, basePath: adminPrefix });
    const hooks = this.#dashboard ? this.#dashboard.observe(engine.hooks) : engine.hooks;
    this.engine = createEngine({ ...engine, hooks: observingHooks(this.metrics, hooks) });
    this.#upstream = new Upstream(upstream, upstreamTimeout);
    this.#storeHeader = new Set([this.engine.options.storeHeader]);
    this.#admin = adminEndpoints(adminPrefix, this.engine.options.store, this.metrics, logger);
    this.server = http.createServer(this.handle);
    this.server.on("clientError", clientErrorResponder(this.engine.options.errorFormat));
  }

  /** The request listener, for mounting the gateway on a server of your own. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (this.#dashboard?.handle(req, res) || this.#admin(req, res)) return;
    const record = new RequestRecord(req.method ?? "GET", req.url ?? "/", res, this.#finished);
    this.#inFlight.add(record);
    if (this.#closing) record.closeConnectionAfterResponse();
    let proxied: Promise<void>;
    if (this.#needsEngine(req, record.method)) proxied = this.#guard(req, res, record);
    else {
      record.decided(undefined, false);
      proxied = this.#forward(req, res, record, undefined, undefined);
    }
    proxied.catch((error: unknown) => this.#fail(record, res, error));
  };

  /** Starts listening; resolves with the bound address (pass port 0 for any free port). */
  async listen(port: number, host: string): Promise<AddressInfo> {
    this.server.listen(port, host);
    await once(this.server, "listening");
    return this.server.address() as AddressInfo;
  }

  /**
   * Shuts down gracefully: stops accepting connections, lets the requests in flight
   * finish for up to `graceMs`, then releases the keys of those that could not (so their
   * retries execute again) and cuts them off. Calling it again returns the same promise.
   */
  close(graceMs: number): Promise<ShutdownReport> {
    this.#closing ??= drain(this.server, this.#inFlight, graceMs).finally(() => this.#upstream.close());
    return this.#closing;
  }

  /**
   * Whether the engine has a say: the method is guarded, and the request has a key or the
   * engine may still find or demand one. Every other request is proxied as it came, the
   * way a plain proxy would, at the cost of a proxy hop.
   */
  #needsEngine(req: IncomingMessage, method: string): boolean {
    if (!this.engine.guards(method)) return false;
    return !this.engine.passesForLackOfKey(headerLines(req, this.engine.options.header));
  }

  /** Decides with the engine, then forwards and relays unless the engine answered. Rejects only on the unexpected (see {@link #fail}). */
  async #guard(req: IncomingMessage, res: ServerResponse, record: RequestRecord): Promise<void> {
    let outcome: Outcome<StreamedBody>;
    try {
      outcome = await guardRequest(this.engine, req, res, { sendsBody: true, streamer: this.#streamUpload });
    } catch (error) {
      // A streamed body outgrew the cap while a completed record waited for its fingerprint.
      const tooLarge = error instanceof UploadTooLargeError;
      record.decided(undefined, tooLarge);
      if (!tooLarge) throw error;
      sendWhole(res, uploadTooLarge(this.engine.options));
      return;
    }
    record.decided(outcome.decision, !outcome.next);
    if (outcome.next)
      await this.#forward(req, res, record, outcome.execution, outcome.body ?? outcome.streamed);
  }

  /** Forwards the request and relays the answer. Rejects only on the unexpected (see {@link #fail}). */
  async #forward(
    req: IncomingMessage,
    res: ServerResponse,
    record: RequestRecord,
    execution: Execution | undefined,
    body: Buffer | StreamedBody | undefined,
  ): Promise<void> {
    const exchange = this.#upstream.send(req, execution !== undefined, body);
    record.abortUpstream = exchange.abort;
    let upstream: IncomingMessage;
    try {
      upstream = await exchange.response;
    } catch (error) {
      record.outcome = error instanceof UpstreamError ? error.problem : "client-aborted";
      await execution?.fail();
      if (error instanceof UploadTooLargeError && !res.destroyed) {
        record.outcome = "rejected";
        sendWhole(res, uploadTooLarge(this.engine.options));
      } else if (error instanceof UpstreamError && !res.destroyed) {
        const detail = `${error.message}; the idempotency key was released, so retrying with it is safe`;
        const { retryAfter, errorFormat } = this.engine.options;
        sendWhole(res, problem(error.problem, detail, retryAfter, [], errorFormat));
      } else {
        res.destroy();
      }
      return;
    }
    try {
      await relayResponse(upstream, res, execution, this.#storeHeader);
    } catch {
      // The response broke off half-way: it must not be stored, and the client must see it cut.
      record.outcome = "upstream-broken";
      await execution?.fail();
      res.destroy();
    }
  }

  /**
   * Starts streaming a body too large to hold (see {@link StreamedBody}), unless its
   * `Content-Length` already says it is over the cap: then it is refused before any claim.
   */
  readonly #streamUpload = (req: IncomingMessage, hasher: BodyFingerprintHasher) => {
    const cap = this.engine.options.maxUploadBytes;
    if (Number(req.headers["content-length"]) > cap) return uploadTooLarge(this.engine.options);
    return new StreamedBody(req, hasher, cap);
  };

  /**
   * The unexpected happened: the client left while its body was being read, a user
   * callback (key, scope, fingerprint) threw, or the request could not be forwarded.
   * A key taken for the request is released; the client gets a 500 problem if it is still there.
   */
  async #fail(record: RequestRecord, res: ServerResponse, error: unknown): Promise<void> {
    await record.execution?.fail();
    if (res.destroyed) {
      record.outcome = "client-aborted";
      return;
    }
    this.#options.logger?.error({ err: error, method: record.method, path: record.path }, "request failed");
    if (res.headersSent) res.destroy();
    else {
      const detail = "the gateway could not handle this request";
      sendWhole(res, problem("internal-error", detail, undefined, [], this.engine.options.errorFormat));
    }
  }

  readonly #finished = (record: RequestRecord): void => {
    this.#inFlight.delete(record);
    this.metrics.observe(record.outcome, record.durationMs / 1000);
    if (this.#options.logger) logRequest(this.#options.logger, record);
    // A keep-alive connection whose last response ended must not hold the shutdown up.
    if (this.#closing) this.server.closeIdleConnections();
  };

  #countInFlight(): { requests: number; executions: number } {
    let executions = 0;
    for (const record of this.#inFlight) if (record.executing) executions++;
    return { requests: this.#inFlight.size, executions };
  }
}

/**
 * Creates a {@link Gateway}; see {@link GatewayOptions} for every option and its default.
 * @param [options.upstreamTimeout=30000] longest silence of the upstream, in ms
 * @param [options.adminPrefix="/_oncely"] prefix of `/health`, `/metrics` and the dashboard
 * @param [options.dashboardWrite=false] let the dashboard delete and purge records
 */
export function createGateway(options: GatewayOptions): Gateway {
  return new Gateway(options);
}
