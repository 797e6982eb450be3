import { type ClaimResult, type Lease, PENDING_FINGERPRINT } from "../store.js";
import { DecryptionFailedError, isUnreadableRecord, StoreUnavailableError } from "./errors.js";
import { Execution } from "./execution.js";
import { BodyFingerprintHasher, credentialScope, requestFingerprint } from "./hashing.js";
import { emit, type KeyEvent } from "./hooks.js";
import type { KeyExtractor } from "./json-key.js";
import { type KeyParseResult, parseKeyHeader, validateKey } from "./key.js";
import { startDeadlineMs } from "./lease-renewal.js";
import { type IdempotencyOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import { newOwnerToken } from "./owner-token.js";
import { type ProblemResponse, problem } from "./problems.js";
import { buildReplay, isSealed, type Replay } from "./replay.js";
import type { IncomingRequest } from "./request.js";
import { SharedClaims } from "./shared-claims.js";
import { changeWaitOf, WaitPacer } from "./wait-pacer.js";

/** Why a request passes through without deduplication. */
export type PassReason = "method" | "no-key" | "store-error";

/**
 * Why the engine answers a request with a problem: an invalid or missing key (`rejected`),
 * the key in flight elsewhere (`conflict`), the key reused for another request
 * (`mismatch`), or a store that failed or answered too late (`store-error`).
 */
export type RespondReason = "rejected" | "conflict" | "mismatch" | "store-error";

/**
 * What the adapter must do with a request. `event` names the key and scope once the
 * request had a valid key, so that a caller can log or count each request from its own
 * decision rather than from the hooks, which are shared by all requests.
 */
export type Decision =
  /** Not guarded: run the handler as if oncely were not there (`event` is set when the store failed open). */
  | { readonly action: "pass"; readonly reason: PassReason; readonly event?: KeyEvent }
  /** Answer with this problem+json response; do not run the handler. */
  | {
      readonly action: "respond";
      readonly response: ProblemResponse;
      readonly reason: RespondReason;
      readonly event?: KeyEvent;
    }
  /** Answer with the stored response; do not run the handler. */
  | { readonly action: "replay"; readonly replay: Replay; readonly event: KeyEvent }
  /** Run the handler and report its response to the execution. */
  | { readonly action: "execute"; readonly execution: Execution; readonly event: KeyEvent };

/**
 * The framework-free idempotency engine. Adapters translate their framework's request
 * into an {@link IncomingRequest}, call {@link begin}, and carry out the {@link Decision}.
 *
 * @example
 * const engine = createEngine({ store: await createStore("memory:") });
 * const decision = await engine.begin({ method: "POST", path: "/orders", header: () => ["k1"], body });
 */
export class IdempotencyEngine {
  /** The options with every default applied. */
  readonly options: ResolvedOptions;
  /** Concurrent claims of one key, merged (see {@link SharedClaims}). */
  readonly #claims = new SharedClaims();

  constructor(options: IdempotencyOptions) {
    this.options = resolveOptions(options);
  }

  /** Whether requests with this method are guarded at all. */
  guards(method: string): boolean {
    return this.options.methods.has(method.toUpperCase());
  }

  /** Whether {@link begin} needs `request.body` for this method (the adapter then buffers it). */
  needsBody(method: string): boolean {
    const { fingerprint, key } = this.options;
    return (
      this.guards(method) && (key !== undefined || typeof fingerprint === "function" || fingerprint.body)
    );
  }

  /**
   * Whether a body too large to buffer may stream to the handler while it is hashed (see
   * `IncomingRequest.bodyFingerprint`): the fingerprint is the default one over the body,
   * and no `key` or `fingerprint` callback needs the whole body first.
   */
  streamsBody(method: string): boolean {
    const { fingerprint, key } = this.options;
    return this.guards(method) && key === undefined && typeof fingerprint !== "function" && fingerprint.body;
  }

  /** A hasher giving the default fingerprint of a request whose body arrives in pieces; see {@link streamsBody}. */
  bodyHasher(request: Pick<IncomingRequest, "method" | "path">): BodyFingerprintHasher {
    const { fingerprint } = this.options;
    if (typeof fingerprint === "function") throw new TypeError("a fingerprint function needs the whole body");
    return new BodyFingerprintHasher(request, fingerprint);
  }

  /**
   * Whether a guarded request passes through for want of a key, as its key header alone
   * shows: keys come from that header, are optional, and none was sent. The adapter can
   * then hand it on at once, without reading its body.
   * @param keyHeaderLines the request's lines of the key header (`options.header`)
   */
  passesForLackOfKey(keyHeaderLines: readonly string[]): boolean {
    return keyHeaderLines.length === 0 && !this.options.required && !this.options.key;
  }

  /**
   * Decides what happens to a request: pass it through, reject it, replay a stored
   * response, or execute it under a lease. Rejects only when a user callback (`key`,
   * `scope`, `fingerprint`) fails.
   */
  begin(request: IncomingRequest): Promise<Decision> {
    const { options } = this;
    if (!this.guards(request.method)) return Promise.resolve(PASS_METHOD);
    if (options.key || options.scope || typeof options.fingerprint === "function")
      return this.#beginWithCallbacks(request);
    const parsed = parseKeyHeader(request.header(options.header), options.maxKeyLength);
    if (!parsed?.ok) return Promise.resolve(this.#withoutValidKey(parsed));
    const scope = credentialScope(request, options.scopeHeader, options.scopeCookie);
    const event = keyEvent(request, parsed.key, scope);
    if (request.bodyFingerprint) return this.#claim(event, PENDING_FINGERPRINT, request.bodyFingerprint);
    return this.#claim(event, requestFingerprint(request, options.fingerprint));
  }

  /** {@link begin} when user callbacks supply the key, the scope or the fingerprint: they may be async. */
  async #beginWithCallbacks(request: IncomingRequest): Promise<Decision> {
    const { options } = this;
    const parsed = options.key
      ? await this.#customKey(options.key, request)
      : parseKeyHeader(request.header(options.header), options.maxKeyLength);
    if (!parsed?.ok) return this.#withoutValidKey(parsed);
    const scope = options.scope
      ? await options.scope(request)
      : credentialScope(request, options.scopeHeader, options.scopeCookie);
    if (typeof scope !== "string" || scope === "")
      throw new TypeError("options.scope must return a non-empty string");
    const event = keyEvent(request, parsed.key, scope);
    if (request.bodyFingerprint && typeof options.fingerprint !== "function")
      return await this.#claim(event, PENDING_FINGERPRINT, request.bodyFingerprint);
    const fingerprint =
      typeof options.fingerprint === "function"
        ? await options.fingerprint(request)
        : requestFingerprint(request, options.fingerprint);
    // The empty string marks a fingerprint still pending (a streamed body): accepted from a
    // callback, it would switch the mismatch check off for the key.
    if (typeof fingerprint !== "string" || fingerprint === "")
      throw new TypeError("options.fingerprint must return a non-empty string");
    // Awaited rather than returned: an async function that returns a promise takes two more
    // turns of the microtask queue to adopt it.
    return await this.#claim(event, fingerprint);
  }

  async #customKey(extract: KeyExtractor, request: IncomingRequest) {
    const key = await extract(request);
    if (key === undefined) return undefined;
    // A JavaScript callback or a JSON field may hand over anything.
    if (typeof key !== "string") return { ok: false as const, reason: "the key must be a string" };
    return validateKey(key, this.options.maxKeyLength);
  }

  /** A request without a usable key: passed through, or answered with a 400. */
  #withoutValidKey(parsed: (KeyParseResult & { ok: false }) | undefined): Decision {
    if (parsed)
      return respond(
        problem("invalid-key", parsed.reason, undefined, [], this.options.errorFormat),
        "rejected",
      );
    if (!this.options.required) return PASS_NO_KEY;
    return respond(
      problem(
        "key-required",
        `send an idempotency key in ${this.options.keyLocation} with this request`,
        undefined,
        [],
        this.options.errorFormat,
      ),
      "rejected",
    );
  }

  /**
   * Claims the key and decides from the answer. While the key is in flight elsewhere it
   * claims again after pauses, as long as `wait` allows, then answers 409.
   * @param bodyFingerprint the request's, when its body is still arriving (`fingerprint` is then pending)
   */
  async #claim(
    event: KeyEvent,
    fingerprint: string,
    bodyFingerprint?: () => Promise<string>,
  ): Promise<Decision> {
    const { options } = this;
    // Made on the first conflict only: most claims are decided at once.
    let pacer: WaitPacer | undefined;
    const startedAt = Date.now();
    for (;;) {
      // Monotonic, and read before the claim leaves: the store starts the lease no earlier.
      const sentAt = performance.now();
      let result: ClaimResult;
      const input = {
        scope: event.scope,
        key: event.key,
        fingerprint,
        token: newOwnerToken(),
        leaseMs: options.lease,
      };
      try {
        // Duplicates arriving, or woken, together share their claims.
        result = await this.#claims.claim(options.store, input);
      } catch (error) {
        return this.#storeFailed(event, error);
      }
      const decision = this.#decide(event, fingerprint, result, performance.now() - sentAt, bodyFingerprint);
      if (decision) return decision;
      pacer ??= new WaitPacer(options.wait, startedAt);
      const change = result.outcome === "in_flight" ? changeWaitOf(options.store, result.record) : undefined;
      if (!(await pacer.pause(change))) {
        emit(options.hooks.onConflict, event);
        return respond(
          problem(
            "request-in-progress",
            "a request with this idempotency key is still being processed; retry later",
            options.retryAfter,
            [],
            options.errorFormat,
          ),
          "conflict",
          event,
        );
      }
    }
  }

  /**
   * The decision a claim's answer makes, or undefined when the key is in flight and must be
   * claimed again. `elapsedMs` is how long the claim took. A pending fingerprint (the body
   * is still arriving, here or in the record's own request) cannot be compared: against an
   * in-flight record the check is skipped; a completed record waits for this body's hash.
   */
  #decide(
    event: KeyEvent,
    fingerprint: string,
    result: ClaimResult,
    elapsedMs: number,
    bodyFingerprint?: () => Promise<string>,
  ): Decision | Promise<Decision> | undefined {
    const { options } = this;
    if (result.outcome === "acquired") {
      if (elapsedMs >= startDeadlineMs(options.lease))
        return this.#claimedTooLate(event, result.lease, elapsedMs);
      return {
        action: "execute",
        execution: new Execution(options, result.lease, event, bodyFingerprint),
        event,
      };
    }
    if (bodyFingerprint && result.outcome === "completed") {
      // The body is read and hashed, not handed on, before the record answers it.
      return bodyFingerprint().then((settled) => this.#decide(event, settled, result, elapsedMs) as Decision);
    }
    if (
      result.record.fingerprint !== fingerprint &&
      fingerprint !== PENDING_FINGERPRINT &&
      result.record.fingerprint !== PENDING_FINGERPRINT
    ) {
      emit(options.hooks.onMismatch, event);
      if (options.mismatch === "reject") {
        return respond(
          problem(
            "key-reused",
            "this idempotency key was already used with a different request method, path or body",
            undefined,
            [],
            options.errorFormat,
          ),
          "mismatch",
          event,
        );
      }
    }
    if (result.outcome === "completed") {
      if (isSealed(result.record)) {
        return this.#storeFailed(
          event,
          new DecryptionFailedError(
            event.scope,
            event.key,
            "it is encrypted and no encryption keys are configured",
          ),
        );
      }
      emit(options.hooks.onReplayed, { ...event, status: result.record.response.status });
      return {
        action: "replay",
        replay: buildReplay(options.store, result.record, options.replayHeader),
        event,
      };
    }
    return undefined;
  }

  /**
   * The claim came back when the lease may have lapsed, or would before its first renewal
   * (a slow store, a long pause of this process): another instance may own the key by now,
   * so executing could run the side effect twice. Whatever `onStoreError` says, nothing runs;
   * the lease is given back (a no-op if it was taken over) before the 503 is sent.
   */
  async #claimedTooLate(event: KeyEvent, lease: Lease, elapsedMs: number): Promise<Decision> {
    const { options } = this;
    const error = new StoreUnavailableError(
      `the claim took ${Math.round(elapsedMs)} ms, too late to start within a ${options.lease} ms lease`,
    );
    emit(options.hooks.onStoreError, { ...event, operation: "claim", error, failedOpen: false });
    try {
      await options.store.release(lease);
    } catch (releaseError) {
      emit(options.hooks.onStoreError, {
        ...event,
        operation: "release",
        error: releaseError,
        failedOpen: false,
      });
    }
    return respond(
      problem(
        "store-unavailable",
        "the idempotency store answered too late to start safely; retry later",
        options.retryAfter,
        [],
        options.errorFormat,
      ),
      "store-error",
      event,
    );
  }

  #storeFailed(event: KeyEvent, error: unknown): Decision {
    if (isUnreadableRecord(error)) {
      // The store works and holds a record for the key: executing anyway (failing open) could
      // run the request twice, and a retry cannot cure it.
      emit(this.options.hooks.onStoreError, { ...event, operation: "claim", error, failedOpen: false });
      return respond(
        problem(
          "record-unreadable",
          "the stored record for this key cannot be read; the server's log says why",
          undefined,
          [],
          this.options.errorFormat,
        ),
        "store-error",
        event,
      );
    }
    const failedOpen = this.options.onStoreError === "open";
    emit(this.options.hooks.onStoreError, { ...event, operation: "claim", error, failedOpen });
    if (failedOpen) return { action: "pass", reason: "store-error", event };
    return respond(
      problem(
        "store-unavailable",
        "the idempotency store cannot be reached; retry later",
        this.options.retryAfter,
        [],
        this.options.errorFormat,
      ),
      "store-error",
      event,
    );
  }
}

/** Creates an engine; see {@link IdempotencyOptions} for every option and its default. */
export function createEngine(options: IdempotencyOptions): IdempotencyEngine {
  return new IdempotencyEngine(options);
}

const PASS_METHOD: Decision = { action: "pass", reason: "method" };
const PASS_NO_KEY: Decision = { action: "pass", reason: "no-key" };

function keyEvent(request: IncomingRequest, key: string, scope: string): KeyEvent {
  return { scope, key, method: request.method, path: request.path };
}

function respond(response: ProblemResponse, reason: RespondReason, event?: KeyEvent): Decision {
  return event ? { action: "respond", response, reason, event } : { action: "respond", response, reason };
}
