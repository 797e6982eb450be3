import { ArgumentsMismatchError } from "./errors.js";
import type { Fingerprint } from "./fingerprint.js";
import { type DeduperOptions, type ResolvedDeduperOptions, resolveDeduperOptions } from "./options.js";
import { readResult } from "./result-record.js";
import { checkId, runOnce } from "./run-once.js";

/** What a handler run by {@link Deduper.once} is given. */
export interface EventContext {
  readonly eventId: string;
  /**
   * Aborted (with a `LeaseLostError`) if this process lost the event to another one,
   * which happens only when it was frozen or cut off from the store for longer than the
   * lease. Check it before an irreversible step to never commit twice.
   */
  readonly signal: AbortSignal;
}

/** A handler's outcome for one delivery. */
export type OnceResult<T> =
  /**
   * This delivery ran the handler. `recorded` is false when its result could not be
   * stored (the store failed, or the lease was lost); a redelivery may then run again.
   */
  | { readonly outcome: "executed"; readonly value: T; readonly recorded: boolean }
  /** An earlier delivery ran the handler; `value` is the result it recorded. */
  | { readonly outcome: "duplicate"; readonly value: T; readonly executedAt: Date }
  /**
   * Another delivery is running the handler right now (and the wait for it, if any, ran
   * out). Answer so that the sender retries later; the lease ends by `leaseExpiresAt`
   * unless the running handler renews it.
   */
  | { readonly outcome: "in_progress"; readonly leaseExpiresAt: Date };

/** What event records are fingerprinted with: event ids carry no arguments to compare. */
const EVENT_FINGERPRINT: Fingerprint = { value: "event", check: true };

/**
 * Runs each event's handler once, however often the event is delivered, across every
 * process that shares the store. Create one per event source and reuse it.
 *
 * Results are stored as JSON and must be plain data: the value a duplicate gets back
 * equals what the first handler returned.
 */
export class Deduper {
  /** The options with every default applied. */
  readonly options: ResolvedDeduperOptions;

  constructor(options: DeduperOptions) {
    this.options = resolveDeduperOptions(options);
  }

  /**
   * Runs `handler` for the first delivery of `eventId` and records what it returns.
   * - a later delivery gets `duplicate` with the recorded value, without running it;
   * - a delivery while it runs waits for it or gets `in_progress` (option `concurrent`);
   * - a handler that throws or rejects releases the id, so a redelivery runs it again,
   *   and the error propagates.
   *
   * @throws {InvalidEventIdError} when `eventId` is not a non-empty string of at most 512 characters
   * @throws {NotSerializableError} when the handler's result is not JSON data (the id is released)
   * @throws {ArgumentsMismatchError} when the id was recorded in this scope by `makeIdempotent`
   */
  async once<T>(eventId: string, handler: (context: EventContext) => T | Promise<T>): Promise<OnceResult<T>> {
    const id = checkId(eventId, "eventId");
    const run = await runOnce(this.options, id, EVENT_FINGERPRINT, (signal) =>
      handler({ eventId: id, signal }),
    );
    switch (run.kind) {
      case "executed":
        return { outcome: "executed", value: run.value, recorded: run.recorded };
      case "duplicate":
        return {
          outcome: "duplicate",
          value: (await readResult(this.options.store, run.record)) as T,
          executedAt: new Date(run.record.completedAt),
        };
      case "in_progress":
        return { outcome: "in_progress", leaseExpiresAt: new Date(run.record.leaseExpiresAt) };
      case "mismatch":
        throw new ArgumentsMismatchError(this.options.scope, id);
    }
  }
}

/**
 * Creates a {@link Deduper}.
 *
 * @param options the store and the policies; see {@link DeduperOptions} for every default
 * @example
 * const dedupe = createDeduper({ store: await createStore("sqlite:./.oncely/oncely.db") });
 * const result = await dedupe.once(message.id, async () => {
 *   await db.insertOrder(message.order);
 *   return { orderId: message.order.id };
 * });
 * if (result.outcome === "in_progress") message.nack(); else message.ack();
 */
export function createDeduper(options: DeduperOptions): Deduper {
  return new Deduper(options);
}
