/**
 * The names of the PostgreSQL store's database objects, checked and quoted once so
 * that the statements can splice them in safely.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { InvalidOptionError } from "../../core/errors.js";

/** Where the store keeps its objects, as given by the `table` and `schema` options. */
export interface ObjectNames {
  /** Qualified, quoted name of the records table, `<table>_records`. */
  readonly records: string;
  /** Qualified, quoted name of the body chunks table, `<table>_chunks`. */
  readonly chunks: string;
  /** Quoted names of the two purge indexes; an index always lives in its table's schema, so they are unqualified. */
  readonly lapsedIndex: string;
  readonly expiredIndex: string;
  /**
   * The notification channel of the records table, a plain lower-case identifier (so it
   * reads the same in `LISTEN` and as `pg_notify`'s text): `oncely_` and a digest of the
   * qualified table name, so that stores of other tables never wake each other's waiters.
   */
  readonly channel: string;
}

/** The `table` option's default, which gives the same table names as the SQLite store's. */
export const DEFAULT_TABLE = "oncely";

/** PostgreSQL truncates identifiers longer than this many bytes, which would merge distinct names. */
const MAX_IDENTIFIER_BYTES = 63;
/** The longest suffix appended to `table`. */
const LONGEST_SUFFIX = "_expired_completions";
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Checks `table` and `schema` and derives every object name from them. Names are
 * quoted, so they keep their case: `table: "Oncely"` is a different table from `oncely`.
 * Without a schema, names are unqualified and resolve through the `search_path`.
 *
 * @throws {InvalidOptionError} when a name is not a plain identifier of letters, digits
 * and underscores, or is too long
 */
export function objectNames(table: string, schema: string | undefined): ObjectNames {
  check("table", table, MAX_IDENTIFIER_BYTES - LONGEST_SUFFIX.length);
  if (schema !== undefined) check("schema", schema, MAX_IDENTIFIER_BYTES);
  const qualified = (name: string) =>
    schema === undefined ? quote(name) : `${quote(schema)}.${quote(name)}`;
  const records = qualified(`${table}_records`);
  return {
    records,
    chunks: qualified(`${table}_chunks`),
    lapsedIndex: quote(`${table}_lapsed_leases`),
    expiredIndex: quote(`${table}${LONGEST_SUFFIX}`),
    channel: `oncely_${createHash("sha256").update(records).digest("hex").slice(0, 24)}`,
  };
}

/**
 * Puts the names into a statement written with `{records}`, `{chunks}`,
 * `{lapsedIndex}`, `{expiredIndex}` and `{channel}` placeholders.
 */
export function withNames(sql: string, names: ObjectNames): string {
  return sql.replace(
    /\{(records|chunks|lapsedIndex|expiredIndex|channel)\}/g,
    (_, name: keyof ObjectNames) => names[name],
  );
}

function check(option: string, name: string, maxLength: number): void {
  if (typeof name !== "string" || !IDENTIFIER.test(name)) {
    throw new InvalidOptionError(
      `${option} must be an identifier of ASCII letters, digits and underscores, got ${JSON.stringify(name)}`,
    );
  }
  if (name.length > maxLength) {
    throw new InvalidOptionError(
      `${option} must be at most ${maxLength} characters long, got ${JSON.stringify(name)}`,
    );
  }
}

/** Validated names hold no quote, but quoting keeps their case and lets them be reserved words. */
function quote(name: string): string {
  return `"${name}"`;
}
