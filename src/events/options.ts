import { InvalidOptionError } from "../core/errors.js";
import { DEFAULTS, isStore, nonNegative, oneOf, optionalFunction, positiveInteger } from "../core/options.js";
import type { IdempotencyStore } from "../store.js";

/** A store operation failed after the handler ran, so the failure could not be thrown to the caller. */
export interface EventStoreErrorEvent {
  readonly scope: string;
  /** The event id or call key. */
  readonly key: string;
  readonly operation: "renew" | "complete" | "release";
  readonly error: unknown;
}

/** Options of `createDeduper`, shared by `makeIdempotent` and the webhook helpers. Durations are milliseconds. */
export interface DeduperOptions {
  /** Where records live: any store from `createStore(url)`, shared with the HTTP engine if you like. */
  store: IdempotencyStore;
  /**
   * Partition of the ids, so that ids of two sources (or a webhook id and an HTTP key)
   * never meet. @default "events" (`makeIdempotent`: `fn:<function name>`)
   */
  scope?: string;
  /**
   * How long a completed event is remembered; a delivery after that runs the handler
   * again. Longer than the sender's retry window: Stripe retries for up to 3 days.
   * @default 604_800_000 (7 days)
   */
  ttl?: number;
  /**
   * In-flight lease. The running handler renews it every third of this period; if the
   * process dies, another delivery may take the event over once it lapses.
   * @default 60_000 (60 s)
   */
  lease?: number;
  /**
   * What a delivery does while the same id is running elsewhere: `"wait"` for that
   * execution to finish (up to `waitTimeout`) and return its result, or `"reject"` at
   * once with an in-progress answer. @default "wait"
   */
  concurrent?: "wait" | "reject";
  /** With `concurrent: "wait"`, how long to wait before answering in progress. @default 5_000 */
  waitTimeout?: number;
  /**
   * Called when renewing, completing or releasing fails after the handler ran. The
   * caller still gets the handler's value (with `recorded: false` when completing
   * failed). A hook that throws is ignored. @default undefined
   */
  onStoreError?: (event: EventStoreErrorEvent) => void | Promise<void>;
}

/** {@link DeduperOptions} checked and with every default applied. */
export interface ResolvedDeduperOptions {
  readonly store: IdempotencyStore;
  readonly scope: string;
  readonly ttl: number;
  readonly lease: number;
  readonly concurrent: "wait" | "reject";
  readonly waitTimeout: number;
  readonly onStoreError: DeduperOptions["onStoreError"];
}

/** Defaults of {@link DeduperOptions}; docs/events.md mirrors them. */
export const EVENT_DEFAULTS = {
  scope: "events",
  ttl: 7 * 24 * 60 * 60 * 1000,
  lease: DEFAULTS.lease,
  concurrent: "wait",
  waitTimeout: 5_000,
} as const;

/**
 * Checks `options` and applies the defaults; throws `InvalidOptionError` naming the option.
 * @param defaultScope the scope when `options.scope` is not given
 */
export function resolveDeduperOptions(
  options: DeduperOptions,
  defaultScope: string = EVENT_DEFAULTS.scope,
): ResolvedDeduperOptions {
  if (typeof options !== "object" || options === null) {
    throw new InvalidOptionError("options must be an object");
  }
  if (!isStore(options.store)) {
    throw new InvalidOptionError("options.store must be an IdempotencyStore (see createStore(url))");
  }
  const scope = options.scope ?? defaultScope;
  if (typeof scope !== "string" || scope === "") {
    throw new InvalidOptionError("options.scope must be a non-empty string");
  }
  return {
    store: options.store,
    scope,
    ttl: positiveInteger("ttl", options.ttl, EVENT_DEFAULTS.ttl),
    lease: positiveInteger("lease", options.lease, EVENT_DEFAULTS.lease),
    concurrent: oneOf("concurrent", options.concurrent, ["wait", "reject"], EVENT_DEFAULTS.concurrent),
    waitTimeout: nonNegative("waitTimeout", options.waitTimeout, EVENT_DEFAULTS.waitTimeout),
    onStoreError: optionalFunction("onStoreError", options.onStoreError),
  };
}
