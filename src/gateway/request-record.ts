import type { ServerResponse } from "node:http";
import type { Decision } from "../core/engine.js";
import type { Execution } from "../core/execution.js";
import type { Slotted } from "../core/slot-array.js";

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
 * Everything one request did, as the proxy saw it and as the engine decided it. The
 * engine's decision and the end of its execution are noted here directly, never through
 * the hooks, so a user's hook cannot change what a request is logged and counted as.
 */
export class RequestRecord implements Slotted {
  readonly startedAt = performance.now();
  readonly method: string;
  /** Path without the query string, which may carry secrets. */
  readonly path: string;
  key: string | undefined;
  /** The record's scope: a hash of the credential, never the credential. */
  scope: string | undefined;
  outcome: RequestOutcome = "passed";
  /** @internal Its place among the gateway's requests in flight (see `SlotArray`). */
  slot = -1;
  /** Cuts the upstream call; set once the request was forwarded. */
  abortUpstream: (() => void) | undefined;
  readonly #res: ServerResponse;
  readonly #onDone: (record: RequestRecord) => void;
  /** Waiting on {@link done}; made only when someone waits (a shutdown), not for every request. */
  #waiters: Array<() => void> | undefined;
  #settled = false;
  #closedAt: number | undefined;
  /** Whether the engine has decided; until then an execution may still come. */
  #decided = false;
  #execution: Execution | undefined;
  #executionEnded = false;

  /** @param onDone called once the request is done (see {@link done}) */
  constructor(method: string, url: string, res: ServerResponse, onDone: (record: RequestRecord) => void) {
    this.method = method;
    const query = url.indexOf("?");
    this.path = query < 0 ? url : url.slice(0, query);
    this.#res = res;
    this.#onDone = onDone;
    // `on`, not `once`: a response closes once, and `once` wraps the listener anew each time.
    res.on("close", () => {
      this.#closedAt = performance.now();
      this.#settle();
    });
  }

  /** Settles once the response is closed and the execution (if any) has stored or released its key. */
  get done(): Promise<void> {
    if (this.#settled) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiters ??= [];
      this.#waiters.push(resolve);
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

  /**
   * The engine has decided, or the request is not guarded (no decision): notes the key,
   * the scope and the outcome the decision implies. An execution's outcome comes when it
   * ends: `executed` when its response was stored, else `released`.
   * @param answered whether the gateway answered the request itself (no decision: it was refused)
   */
  decided(decision: Decision | undefined, answered: boolean): void {
    if (decision?.event) {
      this.key = decision.event.key;
      this.scope = decision.event.scope;
    }
    if (decision === undefined) {
      if (answered) this.outcome = "rejected";
    } else if (decision.action === "execute") {
      this.#execution = decision.execution;
      decision.execution.onEnded((stored) => this.#ended(stored));
    } else {
      this.outcome = decisionOutcome(decision);
    }
    this.#decided = true;
    this.#settle();
  }

  /** The execution stored or released its key. */
  #ended(stored: boolean): void {
    if (stored) this.outcome = "executed";
    else if (this.outcome === "passed") this.outcome = "released";
    this.#executionEnded = true;
    this.#settle();
  }

  #settle(): void {
    if (
      this.#settled ||
      this.#closedAt === undefined ||
      !this.#decided ||
      (this.#execution !== undefined && !this.#executionEnded)
    ) {
      return;
    }
    this.#settled = true;
    this.#onDone(this);
    if (this.#waiters) for (const resolve of this.#waiters) resolve();
  }
}

/** The outcome of a decision that is not an execution. */
function decisionOutcome(decision: Exclude<Decision, { action: "execute" }>): RequestOutcome {
  switch (decision.action) {
    case "pass":
      return decision.reason === "store-error" ? "store-error" : "passed";
    case "respond":
      return decision.reason;
    case "replay":
      return "replayed";
  }
}
