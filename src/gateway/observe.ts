import { emit, type IdempotencyHooks } from "../core/hooks.js";
import type { GatewayMetrics } from "./metrics.js";

/**
 * The engine hooks of the gateway: each event counts in the metrics, and is then passed
 * to the user's own hook of the same name, if any. What each request is logged and
 * counted as comes from its own decision (see `RequestRecord.decided`), not from here.
 */
export function observingHooks(metrics: GatewayMetrics, user: IdempotencyHooks = {}): IdempotencyHooks {
  return {
    onExecuted(event) {
      metrics.executed.inc({ stored: String(event.stored) });
      emit(user.onExecuted, event);
    },
    onReplayed(event) {
      metrics.replayed.inc();
      emit(user.onReplayed, event);
    },
    onConflict(event) {
      metrics.conflicts.inc();
      emit(user.onConflict, event);
    },
    onMismatch(event) {
      metrics.mismatches.inc();
      emit(user.onMismatch, event);
    },
    onReleased(event) {
      metrics.released.inc({ reason: event.reason });
      emit(user.onReleased, event);
    },
    onStoreError(event) {
      metrics.storeErrors.inc({ operation: event.operation });
      emit(user.onStoreError, event);
    },
  };
}
