/**
 * Lifecycle events of the engine, for metering and logging.
 *
 * Meter quota on `onExecuted` only: replays are free. A hook that throws or rejects is
 * ignored, so a broken logger never breaks a request.
 * @module
 */

/** Fields every event carries. `scope` is the partition (a hash, never a raw credential). */
export interface KeyEvent {
  readonly scope: string;
  readonly key: string;
  readonly method: string;
  readonly path: string;
}

/** The handler ran for a key. `stored` tells whether its response will be replayed. */
export interface ExecutedEvent extends KeyEvent {
  readonly status: number;
  readonly stored: boolean;
  readonly durationMs: number;
}

/** A stored response was replayed instead of executing. */
export interface ReplayedEvent extends KeyEvent {
  readonly status: number;
}

/**
 * Why a key was released so that a retry executes again: a status `shouldStore` refused,
 * the handler's `storeHeader: no` (`declined`), a thrown error, or a client that left
 * while its key was being claimed, before the handler could read its body
 * (`client-left`). A failed store write releases nothing: the key stays in flight until
 * its lease lapses (in `oncely/events` too).
 */
export type ReleaseReason = "status" | "declined" | "error" | "client-left";

/** The key was released. */
export interface ReleasedEvent extends KeyEvent {
  readonly reason: ReleaseReason;
  /** The final status, when the release was caused by one. */
  readonly status?: number;
}

/** The store failed. `failedOpen` tells whether the request executed without deduplication. */
export interface StoreErrorEvent {
  readonly scope?: string;
  readonly key?: string;
  readonly method: string;
  readonly path: string;
  readonly operation: string;
  readonly error: unknown;
  readonly failedOpen: boolean;
}

/** Callbacks for each engine event; all optional. */
export interface IdempotencyHooks {
  /** A guarded request executed (the handler ran). Meter quota here. */
  onExecuted?(event: ExecutedEvent): void | Promise<void>;
  /** A retry got the stored response back. */
  onReplayed?(event: ReplayedEvent): void | Promise<void>;
  /** A duplicate arrived while the original was still in flight (409). */
  onConflict?(event: KeyEvent): void | Promise<void>;
  /** The key was reused with another payload (422, or a replay with `mismatch: "ignore"`). */
  onMismatch?(event: KeyEvent): void | Promise<void>;
  /** The key was released (a status not stored, the handler's `storeHeader: no`, a thrown error, a failed store write). */
  onReleased?(event: ReleasedEvent): void | Promise<void>;
  /** The store failed during `operation`. */
  onStoreError?(event: StoreErrorEvent): void | Promise<void>;
}

/** Calls a hook and swallows anything it throws or rejects with. */
export function emit<E>(hook: ((event: E) => void | Promise<void>) | undefined, event: E): void {
  if (!hook) return;
  try {
    const result = hook(event);
    if (result && typeof (result as Promise<void>).catch === "function")
      (result as Promise<void>).catch(() => {});
  } catch {
    // A hook is observability; it must never change the outcome of a request.
  }
}
