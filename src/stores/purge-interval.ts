/**
 * The `purgeInterval` option that the memory, SQLite and PostgreSQL stores share.
 *
 * @module
 */
import { InvalidOptionError } from "../core/errors.js";
import { renamedOption } from "../core/renamed-option.js";

/** How often a store deletes expired records in the background unless told otherwise: once a minute. */
export const DEFAULT_PURGE_INTERVAL = 60_000;

/**
 * The background purge's interval in milliseconds, given as `purgeInterval` or under its
 * deprecated name `purgeIntervalMs`; `0` means no background purge.
 * @throws {InvalidOptionError} when it is not a non-negative number, or the two names disagree
 */
export function purgeIntervalOf(options: {
  readonly purgeInterval?: number | undefined;
  readonly purgeIntervalMs?: number | undefined;
}): number {
  const interval = renamedOption(options, "purgeInterval", "purgeIntervalMs") ?? DEFAULT_PURGE_INTERVAL;
  if (!Number.isFinite(interval) || interval < 0) {
    throw new InvalidOptionError(`purgeInterval must be a non-negative number, got ${interval}`);
  }
  return interval;
}
