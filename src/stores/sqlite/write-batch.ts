/**
 * Group commit for the SQLite store.
 *
 * @module
 */
import type BetterSqlite3 from "better-sqlite3";
import { unlessSqliteFails } from "./connection.js";

interface Pending {
  readonly operation: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  outcome?: { ok: true; value: unknown } | { ok: false; error: unknown };
}

/**
 * The claims and completions that arrive in one turn of the event loop share one
 * `BEGIN IMMEDIATE` transaction, run just after that turn (`setImmediate`): under load,
 * one commit (one write to the log, one take of the lock) serves many requests instead
 * of one each. Each operation runs in a savepoint of its own, so one that fails is
 * undone alone; all answers are given only once the transaction has committed, and a
 * failed commit fails them all.
 */
export class WriteBatch {
  readonly #commit: (batch: readonly Pending[]) => void;
  #pending: Pending[] | undefined;

  constructor(database: BetterSqlite3.Database) {
    // A transaction function called inside another runs as a savepoint.
    const alone = database.transaction((operation: () => unknown) => operation());
    this.#commit = database.transaction((batch: readonly Pending[]) => {
      for (const pending of batch) {
        try {
          pending.outcome = { ok: true, value: alone(pending.operation) };
        } catch (error) {
          pending.outcome = { ok: false, error };
        }
      }
    }).immediate;
  }

  /** Runs `operation` in the next batch; it must only use the database synchronously. */
  run<T>(operation: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#pending === undefined) {
        this.#pending = [];
        setImmediate(() => this.flush());
      }
      this.#pending.push({ operation, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  /** Commits the waiting operations now (also before the database is closed). */
  flush(): void {
    const batch = this.#pending;
    this.#pending = undefined;
    if (batch === undefined) return;
    try {
      unlessSqliteFails(() => this.#commit(batch));
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    for (const { outcome, resolve, reject } of batch) {
      if (outcome?.ok) resolve(outcome.value);
      else reject(outcome?.error);
    }
  }
}
