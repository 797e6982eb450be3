import { createHash } from "node:crypto";
import { toJsonText } from "./json.js";

/** The fingerprint a run stores and compares: a record with another one is a mismatch when `check` is on. */
export interface Fingerprint {
  readonly value: string;
  readonly check: boolean;
}

/** How `makeIdempotent` fingerprints a call's arguments. */
export type FingerprintOption<A extends unknown[]> = boolean | ((...args: A) => string);

/** What is stored when arguments are not compared, so that a later run with validation on sees a mismatch. */
const UNCHECKED = "unchecked";

/**
 * The fingerprint of one call. By default a SHA-256 over the arguments as canonical JSON
 * (object keys sorted, trailing `undefined` arguments dropped, so `f(a)` and
 * `f(a, undefined)` are the same call); a function replaces that text; `false` turns the
 * comparison off.
 *
 * @throws {NotSerializableError} when the default is used and an argument is not JSON data
 */
export function callFingerprint<A extends unknown[]>(option: FingerprintOption<A>, args: A): Fingerprint {
  if (option === false) return { value: UNCHECKED, check: false };
  let text: string;
  if (option === true) {
    let end = args.length;
    while (end > 0 && args[end - 1] === undefined) end--;
    text = toJsonText(args.slice(0, end), "arguments", {
      sortKeys: true,
      undefinedItems: true,
      remedy: "pass fingerprint: (...args) => string to say what identifies a call, or fingerprint: false",
    });
  } else {
    text = option(...args);
    if (typeof text !== "string") throw new TypeError("options.fingerprint must return a string");
  }
  return { value: createHash("sha256").update(text).digest("base64url"), check: true };
}
