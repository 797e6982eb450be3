/**
 * The SQLite store: one database file, shared safely by every process on the machine.
 * It needs the optional package `better-sqlite3`, which is loaded only when a store is
 * created.
 *
 * better-sqlite3 is synchronous: each method runs its statements to the end before it
 * returns, and a call that meets another process's write lock blocks the event loop
 * for up to `busyTimeout`. Writes are short, so in practice the wait is brief.
 *
 * @module
 */
import type BetterSqlite3 from "better-sqlite3";
import { InvalidOptionError } from "../../core/errors.js";
import { renamedOption } from "../../core/renamed-option.js";
import { WaitPacer } from "../../core/wait-pacer.js";
import { openDatabase } from "./connection.js";
import { SqliteStore, type SqliteStoreCommonOptions } from "./store.js";
import { sqlitePathFromUrl } from "./url.js";

export { SqliteStore, type SqliteStoreCommonOptions };

/** Options of {@link createSqliteStore} when the store opens the file itself. */
export interface SqliteFileOptions extends SqliteStoreCommonOptions {
  /** Path of the database file; a missing parent directory is created. */
  path: string;
  /**
   * How long a call waits for another connection's write lock before it fails with a
   * `StoreUnavailableError`.
   * @default 5_000
   */
  busyTimeout?: number;
  /** @deprecated use `busyTimeout` (same value, in milliseconds) */
  busyTimeoutMs?: number;
  /**
   * SQLite's `synchronous` setting for the file. `"normal"` (with WAL) loses no commit when
   * the process dies, `kill -9` included; a power cut or an OS crash may undo the last
   * commits but never damages the file. `"full"` syncs the log on every commit, so even a
   * power cut loses nothing, at the cost of a disk flush per write. `"off"` never syncs:
   * **the risk** is that a power cut or an OS crash can corrupt the database file, losing
   * every record; in WAL mode `"normal"` already syncs only at checkpoints, so `"off"`
   * saves little.
   * @default "normal"
   */
  synchronous?: SqliteSynchronous;
}

/** Values of {@link SqliteFileOptions.synchronous}. */
export type SqliteSynchronous = "normal" | "full" | "off";

/** Options of {@link createSqliteStore} when the application already holds a connection. */
export interface SqliteDatabaseOptions extends SqliteStoreCommonOptions {
  /**
   * An open better-sqlite3 connection. The store creates its `oncely_*` tables in it but
   * leaves its pragmas alone (use WAL and a busy timeout when several processes share
   * the file), and `close()` leaves it open.
   */
  database: BetterSqlite3.Database;
}

/** Options of {@link createSqliteStore}. */
export type SqliteStoreOptions = SqliteFileOptions | SqliteDatabaseOptions;

/**
 * Creates a SQLite store, either on a file it opens (and closes) itself or on a
 * connection the application already holds.
 *
 * A file opened by the store is put in WAL mode with `synchronous = NORMAL`: killing
 * the process, even with `kill -9`, loses no completed write; only a power cut or an OS
 * crash can undo the last few (and never corrupts the file).
 *
 * @param [options.path] the database file; its directory is created when missing
 * @param [options.busyTimeout=5000] how long to wait for another process's write lock
 * @param [options.synchronous="normal"] `"full"` survives power cuts; `"off"` risks the file on one
 * @param [options.database] an open better-sqlite3 connection to use instead of `path`
 * @param [options.purgeInterval=60000] how often expired records are swept; `0` turns the sweep off
 * @throws {MissingDependencyError} when `better-sqlite3` is not installed
 * @throws {StoreUnavailableError} when the file cannot be opened or set up
 * @throws {InvalidOptionError} for an invalid option, or one given under both its names
 * @example
 * const store = await createSqliteStore({ path: "./.oncely/oncely.db" });
 */
export async function createSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  if ("database" in options) return new SqliteStore(options.database, { ...options, ownsDatabase: false });
  const { path, synchronous = "normal" } = options;
  const busyTimeout = renamedOption(options, "busyTimeout", "busyTimeoutMs") ?? 5_000;
  if (typeof path !== "string" || path === "") throw new InvalidOptionError("path must name a database file");
  if (!["normal", "full", "off"].includes(synchronous)) {
    throw new InvalidOptionError(
      `synchronous must be "normal", "full" or "off", got ${JSON.stringify(synchronous)}`,
    );
  }
  if (!Number.isSafeInteger(busyTimeout) || busyTimeout < 0) {
    throw new InvalidOptionError(`busyTimeout must be a non-negative integer, got ${busyTimeout}`);
  }
  // Some locks SQLite takes while opening (switching a brand-new file to WAL, recovering a
  // log) answer SQLITE_BUSY at once instead of waiting for the busy timeout, so several
  // processes opening one new file together could fail: tried again until the timeout.
  const pacer = new WaitPacer(busyTimeout);
  for (;;) {
    try {
      return await openStore(path, { busyTimeout, synchronous }, options);
    } catch (error) {
      if (!isBusy(error) || !(await pacer.pause())) throw error;
    }
  }
}

async function openStore(
  path: string,
  settings: { busyTimeout: number; synchronous: SqliteSynchronous },
  options: SqliteStoreCommonOptions,
): Promise<SqliteStore> {
  const database = await openDatabase(path, settings);
  try {
    return new SqliteStore(database, { ...options, ownsDatabase: true });
  } catch (error) {
    database.close();
    throw error;
  }
}

function isBusy(error: unknown): boolean {
  const code = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof code === "string" && code.startsWith("SQLITE_BUSY");
}

/**
 * Creates a SQLite store from a URL: `sqlite:./relative/path.db` (relative to the
 * working directory), `sqlite:/absolute/path.db` or `sqlite:///absolute/path.db`. The
 * path is taken literally (no percent-decoding); query strings are not supported.
 * @throws {InvalidStoreUrlError} when the URL has another form
 */
export async function sqliteStoreFromUrl(url: string): Promise<SqliteStore> {
  return createSqliteStore({ path: sqlitePathFromUrl(url) });
}
