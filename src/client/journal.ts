/**
 * The file-backed checkpoint: an append-only journal with one line per completed item.
 *
 * Why a journal rather than a JSON file rewritten after each item: recording an item costs
 * one small append whatever the size of the checkpoint, and a crash at any instant leaves
 * at worst a torn last line, which is dropped on the next open.
 * @module
 */
import {
  closeSync,
  fsync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  truncateSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { InvalidOptionError } from "../core/errors.js";
import type { Checkpoint } from "./checkpoint.js";
import { CheckpointClosedError } from "./errors.js";
import { deleteLine, doneLine, HEADER, type JournalContent, parseJournal } from "./journal-format.js";
import type { JournalKeys } from "./journal-keys.js";

/** Options of {@link openJournal}. */
export interface JournalOptions {
  /**
   * fsync once this many entries were written since the last fsync. Every entry is written
   * to the file at once, so it survives the process being killed; the fsync is what makes
   * it survive a power cut. 1 syncs after each entry (slowest, safest); `Infinity` leaves it
   * to `syncInterval` and `close()`.
   * @default 100
   */
  syncEvery?: number;
  /** …and at the latest this many milliseconds after an unsynced entry was written; 0 waits for `syncEvery`. @default 1000 */
  syncInterval?: number;
  /**
   * On open, rewrite the file with only the live entries when it holds at least this many
   * dead lines (forgotten or repeated keys) and at least as many dead lines as live ones.
   * @default 10_000
   */
  compactAfter?: number;
}

function count(name: string, value: number, minimum: number): number {
  if (!(Number.isSafeInteger(value) || value === Number.POSITIVE_INFINITY) || value < minimum) {
    throw new InvalidOptionError(`${name} must be an integer of at least ${minimum}, got ${value}`);
  }
  return value;
}

/**
 * Opens (or creates) the journal at `path` and loads the keys it holds.
 *
 * A torn last line left by a crash is cut off; a journal that has grown mostly dead is
 * compacted. One process at a time may use a journal.
 *
 * @example
 * const checkpoint = openJournal(".oncely/import.journal");
 * const summary = await runBatch(rows, work, { key: (row) => row.id, checkpoint });
 * @throws CorruptJournalError when the file is not a journal or is damaged before its last line
 */
export function openJournal(path: string, options: JournalOptions = {}): Checkpoint {
  const { syncEvery = 100, syncInterval = 1000, compactAfter = 10_000 } = options;
  const settings = {
    syncEvery: count("syncEvery", syncEvery, 1),
    syncInterval: count("syncInterval", syncInterval, 0),
  };
  mkdirSync(dirname(path), { recursive: true });
  const content = load(path);
  const dead = content.entries - content.keys.size;
  const compact = dead >= count("compactAfter", compactAfter, 1) && dead >= content.keys.size;
  // A new file, or one holding only a torn header, starts with a fresh header.
  if (compact || content.validLength === 0) rewrite(path, content.keys);
  return new Journal(path, content.keys, settings);
}

function load(path: string): JournalContent {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return parseJournal(Buffer.alloc(0), path);
    throw error;
  }
  const content = parseJournal(bytes, path);
  if (content.validLength < bytes.length) truncateSync(path, content.validLength);
  return content;
}

/** Replaces the file atomically with a fresh journal of `keys`: a crash leaves the old or the new one. */
function rewrite(path: string, keys: Iterable<string>): void {
  const temporary = `${path}.compacting`;
  const fd = openSync(temporary, "w");
  try {
    let chunk = HEADER;
    for (const key of keys) {
      chunk += doneLine(key);
      if (chunk.length >= 1 << 20) {
        writeSync(fd, chunk);
        chunk = "";
      }
    }
    writeSync(fd, chunk);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  syncDirectory(dirname(path));
}

/** Makes a rename durable; some platforms cannot open a directory, and there it is skipped. */
function syncDirectory(directory: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(directory, "r");
    fsyncSync(fd);
  } catch {
    // Windows cannot fsync a directory; its renames are durable through the file system itself.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

class Journal implements Checkpoint {
  readonly #keys: JournalKeys;
  readonly #syncEvery: number;
  readonly #syncInterval: number;
  #fd: number | undefined;
  #unsynced = 0;
  #timer: NodeJS.Timeout | undefined;
  #syncing: Promise<void> | undefined;
  #failure: Error | undefined;

  constructor(path: string, keys: JournalKeys, settings: { syncEvery: number; syncInterval: number }) {
    this.#keys = keys;
    this.#syncEvery = settings.syncEvery;
    this.#syncInterval = settings.syncInterval;
    this.#fd = openSync(path, "a");
  }

  get size(): number {
    return this.#keys.size;
  }

  has(key: string): boolean {
    this.#open();
    return this.#keys.has(key);
  }

  add(key: string): void {
    const fd = this.#open();
    if (this.#keys.has(key)) return;
    writeSync(fd, doneLine(key));
    this.#keys.add(key);
    this.#written();
  }

  delete(key: string): void {
    const fd = this.#open();
    if (!this.#keys.has(key)) return;
    writeSync(fd, deleteLine(key));
    this.#keys.delete(key);
    this.#written();
  }

  async flush(): Promise<void> {
    this.#open();
    await this.#syncing;
    if (this.#unsynced > 0) await this.#startSync();
    this.#open();
  }

  async close(): Promise<void> {
    const fd = this.#fd;
    if (fd === undefined) return;
    await this.#syncing;
    clearTimeout(this.#timer);
    this.#fd = undefined;
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  #open(): number {
    if (this.#fd === undefined) throw new CheckpointClosedError();
    if (this.#failure) throw this.#failure;
    return this.#fd;
  }

  #written(): void {
    this.#unsynced++;
    this.#schedule();
  }

  #schedule(): void {
    // While an fsync runs, nothing is scheduled: it looks again when it ends.
    if (this.#syncing || this.#unsynced === 0) return;
    if (this.#unsynced >= this.#syncEvery) void this.#startSync();
    else if (this.#syncInterval > 0)
      this.#timer ??= setTimeout(() => void this.#startSync(), this.#syncInterval).unref();
  }

  /** One fsync at a time, off the event loop; it covers every entry written before it starts. */
  #startSync(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const fd = this.#fd;
    if (fd === undefined) return Promise.resolve();
    this.#unsynced = 0;
    this.#syncing = new Promise<void>((resolve) => {
      fsync(fd, (error) => {
        if (error) this.#failure = error;
        this.#syncing = undefined;
        this.#schedule();
        resolve();
      });
    });
    return this.#syncing;
  }
}
