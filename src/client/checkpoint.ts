/**
 * The checkpoint contract: which items of a batch are done, across runs.
 * @module
 */
import { CheckpointClosedError } from "./errors.js";

/**
 * The set of items a batch has completed, by key. `runBatch` skips the items it holds and
 * adds each item it completes. {@link openJournal} keeps it in a file that survives
 * `kill -9`; {@link memoryCheckpoint} keeps it in memory, for tests.
 */
export interface Checkpoint {
  /** How many items are recorded as done. */
  readonly size: number;
  /** True when the item with this key is done. */
  has(key: string): boolean;
  /** Records the item as done; recording it twice is harmless. */
  add(key: string): void;
  /** Forgets the item, so that the next run does it again. */
  delete(key: string): void;
  /** Resolves once everything recorded so far is durable. */
  flush(): Promise<void>;
  /** Makes everything durable and releases the checkpoint; later calls throw `CheckpointClosedError`. */
  close(): Promise<void>;
}

/**
 * A checkpoint that lives in memory only: for tests, and for batches that need no resume.
 * @param done keys to start with
 */
export function memoryCheckpoint(done: Iterable<string> = []): Checkpoint {
  const keys = new Set(done);
  let closed = false;
  const open = () => {
    if (closed) throw new CheckpointClosedError();
    return keys;
  };
  return {
    get size() {
      return keys.size;
    },
    has: (key) => open().has(key),
    add: (key) => void open().add(key),
    delete: (key) => void open().delete(key),
    flush: async () => void open(),
    close: async () => {
      closed = true;
    },
  };
}
