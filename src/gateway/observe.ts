import { emit, type IdempotencyHooks } from "../core/hooks.js";
import type { GatewayMetrics } from "./metrics.js";
import { currentRequest } from "./request-record.js";

/**
 * The engine hooks of the gateway: each event counts in the metrics, lands in the record
 * of the request it belongs to (for the log line), and is then passed to the user's own
 * hook of the same name, if any.
 */
export function observingHooks(metrics: GatewayMetrics, user: IdempotencyHooks = {}): IdempotencyHooks {
  return {
    onExecuted(event) {
      metrics.executed.inc({ stored: String(event.stored) });
      const record = currentRequest.getStore();
      record?.noteEvent(event);
      record?.executionEnded(event.stored);
      emit(user.onExecuted, event);
    },
    onReplayed(event) {
      metrics.replayed.inc();
      currentRequest.getStore()?.noteEvent(event, "replayed");
      emit(user.onReplayed, event);
    },
    onConflict(event) {
      metrics.conflicts.inc();
      currentRequest.getStore()?.noteEvent(event, "conflict");
      emit(user.onConflict, event);
    },
    onMismatch(event) {
      metrics.mismatches.inc();
      currentRequest.getStore()?.noteEvent(event, "mismatch");
      emit(user.onMismatch, event);
    },
    onReleased(event) {
      metrics.released.inc({ reason: event.reason });
      currentRequest.getStore()?.noteEvent(event, "released");
      emit(user.onReleased, event);
    },
    onStoreError(event) {
      metrics.storeErrors.inc({ operation: event.operation });
      const record = currentRequest.getStore();
      // Only a failed claim decides the request's fate; a failed renewal or completion is reported by the execution.
      if (record && event.operation === "claim" && event.key !== undefined && event.scope !== undefined) {
        record.noteEvent({ key: event.key, scope: event.scope }, "store-error");
      }
      emit(user.onStoreError, event);
    },
  };
}
