import { AsyncLocalStorage } from "node:async_hooks";
import type { ServerResponse } from "node:http";
import type { Execution } from "../core/execution.js";
import type { KeyEvent } from "../core/hooks.js";

/**
 * What happened to a request, as one word for logs and metrics:
 * - `passed`: not guarded (method not in `methods`, or no key) — proxied untouched;
 * - `executed`: forwarded under a key and the response stored;
 * - `released`: forwarded under a key but not stored (a status not stored, the upstream's `X-Idempotency-Store: no`, a broken response): a retry executes again;
 * - `replayed`: answered from the store, the upstream was not called;
 * - `conflict`, `mismatch`, `rejected` (an invalid or missing key, a body too large): a 4xx problem from the engine;
 * - `store-error`: the store failed (503, or proxied without deduplication with `onStoreError: "open"`);
 * - `upstream-unreachable` (502), `upstream-timeout` (504), `upstream-broken` (the response broke off), `client-aborted`.
 */
export type RequestOutcome =
  | "passed"
  | "executed"
  | "released"
  | "replayed"
  | "conflict"
  | "mismatch"
  | "rejected"
  | "store-error"
  | "upstream-unreachable"
  | "upstream-timeout"
  | "upstream-broken"
  | "client-aborted";

/**
 * Everything one request did, gathered from the proxy and from the engine's hooks.
 * The hooks find the record of their request through {@link currentRequest}; they fire
 * inside the request's own asynchronous context, so concurrent requests never mix.
 */
export class RequestRecord {
  readonly startedAt = performance.now();
  readonly method: string;
  /** Path without the query string, which may carry secrets. */
  readonly path: string;
  key: string | undefined;
  /** The record's scope: a hash of the credential, never the credential. */
  scope: string | undefined;
  outcome: RequestOutcome = "passed";
  /** Cuts the upstream call; set once the request was forwarded. */
  abortUpstream: (() => void) | undefined;
  /** Settles once the response is closed and the execution (if any) has stored or released its key. */
  readonly done: Promise<void>;
  readonly #res: ServerResponse;
  #resolveDone!: () => void;
  #closedAt: number | undefined;
  /** Whether the engine has decided; until then an execution may still come. */
  #decided = false;
  #execution: Execution | undefined;
  #executionEnded = false;

  constructor(method: string, url: string, res: ServerResponse) {
    this.method = method;
    const query = url.indexOf("?");
    this.path = query < 0 ? url : url.slice(0, query);
    this.#res = res;
    this.done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
    res.once("close", () => {
      this.#closedAt = performance.now();
      this.#settle();
    });
  }

  /** The final status sent (or being sent) to the client. */
  get status(): number {
    return this.#res.statusCode;
  }

  /** Milliseconds from the request's arrival until its response was closed (or until now, while it is open). */
  get durationMs(): number {
    return (this.#closedAt ?? performance.now()) - this.startedAt;
  }

  /** Notes the key and scope of an engine event, and the outcome it implies unless a more specific one is known. */
  noteEvent(event: Pick<KeyEvent, "key" | "scope">, outcome?: RequestOutcome): void {
    this.key = event.key;
    this.scope = event.scope;
    if (outcome && !isUpstreamFailure(this.outcome)) this.outcome = outcome;
  }

  /** The execution this request runs under, if any. */
  get execution(): Execution | undefined {
    return this.#execution;
  }

  /**
   * Gives up on the request (a shutdown's grace period ran out): releases its key so a
   * retry executes again, cuts the upstream call and the client's connection.
   */
  async abandon(): Promise<void> {
    await this.#execution?.fail();
    this.abortUpstream?.();
    this.#res.destroy();
  }

  /** Asks the client to open a new connection for its next request (the gateway is shutting down). */
  closeConnectionAfterResponse(): void {
    if (!this.#res.headersSent) this.#res.setHeader("connection", "close");
  }

  /** True while the request executes under a key's lease. */
  get executing(): boolean {
    return this.#execution !== undefined && !this.#executionEnded;
  }

  /** The engine has decided (or the request is not guarded): `execution` is set when the request executes under a key. */
  decided(execution: Execution | undefined): void {
    this.#execution = execution;
    this.#decided = true;
    this.#settle();
  }

  /** The execution stored or released its key (the engine's `onExecuted`, which always comes last). */
  executionEnded(stored: boolean): void {
    if (stored) this.outcome = "executed";
    else if (this.outcome === "passed") this.outcome = "released";
    this.#executionEnded = true;
    this.#settle();
  }

  #settle(): void {
    if (
      this.#closedAt !== undefined &&
      this.#decided &&
      (this.#execution === undefined || this.#executionEnded)
    ) {
      this.#resolveDone();
    }
  }
}

function isUpstreamFailure(outcome: RequestOutcome): boolean {
  return outcome.startsWith("upstream-") || outcome === "client-aborted";
}

/** The record of the request whose asynchronous context is running. */
export const currentRequest = new AsyncLocalStorage<RequestRecord>();
