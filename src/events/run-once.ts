import { StoreUnavailableError } from "../core/errors.js";
import { emit } from "../core/hooks.js";
import { LeaseRenewal, startDeadlineMs } from "../core/lease-renewal.js";
import { newOwnerToken } from "../core/owner-token.js";
import { changeWaitOf, WaitPacer } from "../core/wait-pacer.js";
import type { CompletedRecord, InFlightRecord, Lease } from "../store.js";
import { InvalidEventIdError, LeaseLostError } from "./errors.js";
import type { Fingerprint } from "./fingerprint.js";
import type { EventStoreErrorEvent, ResolvedDeduperOptions } from "./options.js";
import { type EncodedResult, encodeResult, recordResult } from "./result-record.js";

/** Longest accepted event id or call key. Generous: provider ids are far shorter, composed keys may not be. */
const MAX_ID_LENGTH = 512;

/** What happened to one run of {@link runOnce}. */
export type RunOutcome<T> =
  /** This run executed the work. `recorded` is false when its result could not be stored. */
  | { readonly kind: "executed"; readonly value: T; readonly recorded: boolean }
  /** An earlier run completed; its result is in the record. */
  | { readonly kind: "duplicate"; readonly record: CompletedRecord }
  /** Another run holds the lease (and the wait for it, if any, ran out). */
  | { readonly kind: "in_progress"; readonly record: InFlightRecord }
  /** The key was recorded with another fingerprint. */
  | { readonly kind: "mismatch" };

/** Checks an event id or call key; `what` names it in the error message. */
export function checkId(id: unknown, what: string): string {
  if (typeof id !== "string" || id === "" || id.length > MAX_ID_LENGTH) {
    throw new InvalidEventIdError(
      `${what} must be a non-empty string of at most ${MAX_ID_LENGTH} characters`,
    );
  }
  return id;
}

/**
 * Runs `work` at most once for `key`, with the core engine's semantics: one claim wins;
 * the winner holds a lease that is renewed while the work runs and fenced by its owner
 * token; a result is stored as a completed record; a failure releases the key so a
 * redelivery runs the work again.
 *
 * Rejects with the work's own error (after releasing the key), with a
 * `NotSerializableError` when the result is not JSON data, or with the store's error
 * when the claim fails (nothing ran then). A claim answered too late to start safely
 * (another run may have taken the key over meanwhile) rejects with a
 * `StoreUnavailableError` too, after giving the key back.
 */
export async function runOnce<T>(
  options: ResolvedDeduperOptions,
  key: string,
  fingerprint: Fingerprint,
  work: (signal: AbortSignal) => T | Promise<T>,
): Promise<RunOutcome<T>> {
  const { store, scope } = options;
  const pacer = new WaitPacer(options.concurrent === "wait" ? options.waitTimeout : 0);
  for (;;) {
    // Monotonic, and read before the claim leaves: the store starts the lease no earlier.
    const sentAt = performance.now();
    const claim = await store.claim({
      scope,
      key,
      fingerprint: fingerprint.value,
      token: newOwnerToken(),
      leaseMs: options.lease,
    });
    if (claim.outcome === "acquired") {
      const elapsed = performance.now() - sentAt;
      if (elapsed >= startDeadlineMs(options.lease)) {
        const report = (operation: "release", error: unknown) =>
          emit(options.onStoreError, { scope, key, operation, error });
        await release(options, claim.lease, report);
        throw new StoreUnavailableError(
          `the claim took ${Math.round(elapsed)} ms, too late to start within a ${options.lease} ms lease`,
        );
      }
      return execute(options, claim.lease, work);
    }
    if (fingerprint.check && claim.record.fingerprint !== fingerprint.value) return { kind: "mismatch" };
    if (claim.outcome === "completed") return { kind: "duplicate", record: claim.record };
    if (!(await pacer.pause(changeWaitOf(store, claim.record))))
      return { kind: "in_progress", record: claim.record };
  }
}

async function execute<T>(
  options: ResolvedDeduperOptions,
  lease: Lease,
  work: (signal: AbortSignal) => T | Promise<T>,
): Promise<RunOutcome<T>> {
  const report = (operation: EventStoreErrorEvent["operation"], error: unknown) =>
    emit(options.onStoreError, { scope: lease.scope, key: lease.key, operation, error });
  const controller = new AbortController();
  const renewal = new LeaseRenewal(options.store, lease, options.lease, {
    onLost: () => controller.abort(new LeaseLostError(lease.scope, lease.key)),
    onError: (error) => report("renew", error),
  });
  let value: T;
  let result: EncodedResult;
  try {
    value = await work(controller.signal);
    result = encodeResult(value);
  } catch (error) {
    renewal.stop();
    await release(options, lease, report);
    throw error;
  }
  let recorded = false;
  try {
    recorded = await recordResult(options.store, lease, result, options.ttl);
    renewal.stop();
  } catch (error) {
    renewal.stop();
    report("complete", error);
    // As in the HTTP engine: the work ran, so the id is not released for a redelivery to run it
    // again at once; it stays in flight until its lease lapses, as after a crash.
  }
  return { kind: "executed", value, recorded };
}

async function release(
  options: ResolvedDeduperOptions,
  lease: Lease,
  report: (operation: "release", error: unknown) => void,
): Promise<void> {
  try {
    await options.store.release(lease);
  } catch (error) {
    // The lease lapses by itself; until then duplicates are told the event is in progress.
    report("release", error);
  }
}
