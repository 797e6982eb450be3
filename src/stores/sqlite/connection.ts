/**
 * Opening the SQLite connection of a store, and mapping SQLite's failures onto the
 * oncely error family.
 *
 * @module
 */
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type BetterSqlite3 from "better-sqlite3";
import { StoreUnavailableError } from "../../core/errors.js";
import { importOptional } from "../../core/optional-dependency.js";
import { checkDriverVersion } from "./driver-version.js";

/**
 * Opens (creating if needed) the database file and its directory, tuned for a store
 * shared by several processes.
 *
 * WAL lets readers work while one process writes. With WAL, `synchronous = NORMAL` is
 * still safe against the process dying at any moment, `kill -9` included: a commit is
 * in the log file, which the operating system holds, before the call returns. Only a
 * power cut or an OS crash can undo the last commits, and even then the file stays
 * consistent. `FULL` closes that gap at the cost of an fsync on every write; `OFF` skips
 * the syncs at checkpoints too, and then a power cut can corrupt the file. `synchronous`
 * chooses; `normal` is the default.
 *
 * @throws {MissingDependencyError} when `better-sqlite3` is not installed
 * @throws {IncompatibleDependencyError} when its version cannot run on this Node.js
 * @throws {StoreUnavailableError} when the directory or the file cannot be opened
 */
export async function openDatabase(
  path: string,
  { busyTimeout, synchronous }: { busyTimeout: number; synchronous: "normal" | "full" | "off" },
): Promise<BetterSqlite3.Database> {
  const Database = await loadBetterSqlite3();
  try {
    mkdirSync(dirname(resolve(path)), { recursive: true });
  } catch (error) {
    throw new StoreUnavailableError(`SQLite store: cannot create the directory of ${path}`, { cause: error });
  }
  return unlessSqliteFails(() => {
    // `timeout` is SQLite's busy_timeout: how long to wait for another writer's lock.
    const database = new Database(path, { timeout: busyTimeout });
    try {
      database.pragma("journal_mode = WAL");
      database.pragma(`synchronous = ${synchronous.toUpperCase()}`);
      return database;
    } catch (error) {
      database.close();
      throw error;
    }
  });
}

/**
 * Runs `operation`, turning SQLite's own failures (busy past the timeout, I/O errors,
 * a full disk, a damaged file) into a {@link StoreUnavailableError}; other errors,
 * such as a `CorruptRecordError`, pass unchanged.
 */
export function unlessSqliteFails<T>(operation: () => T): T {
  try {
    return operation();
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === "string" && code.startsWith("SQLITE_")) {
      throw new StoreUnavailableError(`SQLite store: ${(error as Error).message}`, { cause: error });
    }
    throw error;
  }
}

/** better-sqlite3 is an optional peer dependency, so it is imported only when a store is opened. */
async function loadBetterSqlite3(): Promise<typeof BetterSqlite3> {
  const { default: driver } = await importOptional(
    "better-sqlite3",
    "The SQLite store",
    () => import("better-sqlite3"),
  );
  // Before any database is opened: that is when a mismatched native module kills the process.
  checkDriverVersion();
  return driver;
}
