/**
 * The in-memory store: records live in `Map`s of this process, within bounds on their
 * number and size. Nothing survives a restart and nothing is shared with other processes,
 * so it suits tests, development and single-instance services that accept losing their
 * keys on restart.
 *
 * @module
 */
import { InvalidStoreUrlError } from "../../core/errors.js";
import { MemoryStore, type MemoryStoreOptions } from "./store.js";

export {
  MEMORY_STORE_DEFAULTS,
  MemoryStore,
  type MemoryStoreOptions,
  RECORD_OVERHEAD_BYTES,
} from "./store.js";

/**
 * Creates an in-memory store.
 *
 * @param [options.purgeInterval=60000] how often expired records are swept; `0` turns the sweep off
 * @param [options.maxEntries=100000] the most records kept
 * @param [options.maxBytes=67108864] about the most bytes the records take
 * @example
 * const store = createMemoryStore({ maxEntries: 10_000 });
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  return new MemoryStore(options);
}

/** The options a `memory:` URL may set in its query string. */
const URL_OPTIONS = ["maxEntries", "maxBytes", "purgeInterval"] as const;
/** Deprecated names still read from the query string, not shown in messages. */
const RENAMED_URL_OPTIONS = ["purgeIntervalMs"] as const;

/**
 * Creates an in-memory store from the URL `memory:`, optionally with bounds in its query
 * string: `memory:?maxEntries=10000&maxBytes=16777216`.
 * @throws {InvalidStoreUrlError} for another scheme, a path, or an unknown or non-integer parameter
 * @throws {InvalidOptionError} when a bound is out of range, or `purgeInterval` is also given as `purgeIntervalMs` with another value
 */
export function memoryStoreFromUrl(url: string): MemoryStore {
  const usage = `use memory: or memory:?${URL_OPTIONS.map((name) => `${name}=N`).join("&")}`;
  // The URL is not echoed: whatever follows the scheme might be a secret pasted by mistake.
  const match = /^memory:(?:\?(.*))?$/is.exec(url);
  if (!match) throw new InvalidStoreUrlError(`invalid memory store URL: ${usage}`);
  const options: MemoryStoreOptions = {};
  for (const [name, value] of new URLSearchParams(match[1] ?? "")) {
    const option = [...URL_OPTIONS, ...RENAMED_URL_OPTIONS].find((known) => known === name);
    if (!option)
      throw new InvalidStoreUrlError(`unknown memory store URL parameter ${JSON.stringify(name)}: ${usage}`);
    if (!/^\d+$/.test(value)) {
      throw new InvalidStoreUrlError(`memory store URL parameter ${name} must be a whole number`);
    }
    options[option] = Number(value);
  }
  return new MemoryStore(options);
}
