/**
 * Values that may come back at once or later. Store operations on the request path may
 * answer synchronously (an in-process or embedded backend has the answer at hand), and
 * the engine then decides in the same turn instead of queueing microtasks for it.
 * @module
 */

/** A value, or a promise of it. */
export type MaybePromise<T> = T | PromiseLike<T>;

/** Whether a value is a promise (or any thenable) rather than the value itself. */
export function isPromiseLike<T>(value: MaybePromise<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}
