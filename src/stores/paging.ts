import { InvalidOptionError } from "../core/errors.js";

/** Records on one page of `InspectableStore.list` when the caller names no limit. */
export const DEFAULT_PAGE_LIMIT = 100;

/** Checks the `limit` of a `list` call, the same way for every store. */
export function checkPageLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new InvalidOptionError(`limit must be a positive integer, got ${limit}`);
  }
}
