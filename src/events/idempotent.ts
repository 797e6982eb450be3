import { InvalidOptionError } from "../core/errors.js";
import { ArgumentsMismatchError, CallInProgressError } from "./errors.js";
import { callFingerprint, type FingerprintOption } from "./fingerprint.js";
import { type DeduperOptions, resolveDeduperOptions } from "./options.js";
import { readResult } from "./result-record.js";
import { checkId, runOnce } from "./run-once.js";

/** Options of {@link makeIdempotent}: the deduper's, plus how to key and fingerprint a call. */
export interface IdempotentOptions<A extends unknown[]> extends DeduperOptions {
  /** The call's idempotency key, from its arguments, e.g. `(order) => \`charge:${order.id}\``. */
  key: (...args: A) => string;
  /**
   * Whether a key reused with different arguments is an error (`ArgumentsMismatchError`)
   * rather than answered with the other call's result. `true` compares the arguments as
   * canonical JSON (they must then be JSON data); a function returns the text to compare
   * instead, e.g. `(order) => order.id + order.amount`; `false` compares nothing.
   * @default true
   */
  fingerprint?: FingerprintOption<A>;
}

/**
 * Wraps an async function so that it runs once per key: a repeated call with the same key
 * gets the first call's result back from the store (in any process sharing it), without
 * running again. A call that throws releases the key, so a retry runs again.
 *
 * The result must be JSON data (`NotSerializableError` otherwise, and the key is
 * released); `undefined` is fine. Concurrent calls with one key wait for the first
 * (`concurrent`, `waitTimeout`) and throw `CallInProgressError` if it is still running.
 *
 * @param fn the function to guard; its `this` is passed through
 * @param options `key` and `store` are required; `scope` defaults to `fn:<fn.name>` and
 *   must be given for an anonymous function; see {@link IdempotentOptions} for the rest
 * @throws {InvalidOptionError} when an option is invalid
 *
 * @example
 * const charge = makeIdempotent(
 *   async (order: Order) => payments.charge(order.customer, order.amount),
 *   { store, scope: "charge", key: (order) => order.id },
 * );
 * await charge(order); // charges
 * await charge(order); // returns the first charge's result
 */
export function makeIdempotent<F extends (...args: never) => unknown>(
  fn: F,
  options: IdempotentOptions<Parameters<F>>,
): (...args: Parameters<F>) => Promise<Awaited<ReturnType<F>>> {
  if (typeof fn !== "function") throw new InvalidOptionError("makeIdempotent needs a function to wrap");
  if (options?.scope === undefined && fn.name === "") {
    throw new InvalidOptionError("options.scope is required when the wrapped function has no name");
  }
  const resolved = resolveDeduperOptions(options, `fn:${fn.name}`);
  const { key, fingerprint = true } = options;
  if (typeof key !== "function") {
    throw new InvalidOptionError("options.key must be a function of the arguments");
  }
  if (typeof fingerprint !== "boolean" && typeof fingerprint !== "function") {
    throw new InvalidOptionError("options.fingerprint must be true, false or a function");
  }

  type Result = Awaited<ReturnType<F>>;
  return async function idempotent(this: unknown, ...args: Parameters<F>): Promise<Result> {
    const id = checkId(key(...args), "options.key(...)");
    const call = () => Reflect.apply(fn, this, args) as Result | Promise<Result>;
    const run = await runOnce<Result>(resolved, id, callFingerprint(fingerprint, args), call);
    switch (run.kind) {
      case "executed":
        return run.value;
      case "duplicate":
        return (await readResult(resolved.store, run.record)) as Result;
      case "in_progress":
        throw new CallInProgressError(resolved.scope, id);
      case "mismatch":
        throw new ArgumentsMismatchError(resolved.scope, id);
    }
  };
}
