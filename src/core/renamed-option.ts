/**
 * Renamed options: an option that took a new name keeps its old one as a deprecated alias
 * for a while. Each options type resolves its aliases with {@link renamedOption} where it
 * applies its defaults, so that there is one place to remove them from.
 *
 * @module
 */
import { InvalidOptionError } from "./errors.js";

/**
 * The value given under `name`, else under its deprecated alias `alias`, else `undefined`.
 *
 * @throws {InvalidOptionError} when both names are given with different values: which one
 *   was meant cannot be told, and silently taking either hides the mistake
 * @example
 * const interval = renamedOption(options, "purgeInterval", "purgeIntervalMs") ?? 60_000;
 */
export function renamedOption<O extends object, N extends keyof O & string, A extends keyof O & string>(
  options: O,
  name: N,
  alias: A,
): O[N] | O[A] {
  const value = options[name];
  const old = options[alias];
  if (value !== undefined && old !== undefined && !Object.is(value, old)) {
    throw new InvalidOptionError(
      `${name} and ${alias} (its deprecated name) are both given, with different values (${String(value)} and ${String(old)}): give ${name} only`,
    );
  }
  return value === undefined ? old : value;
}
