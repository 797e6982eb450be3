import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MIGRATION } from "../../src/stores/postgres/migrate.js";

const docs = readFileSync(new URL("../../docs/stores.md", import.meta.url), "utf8");

/** `name type …` lines of one CREATE TABLE, as `name type` strings, from SQL or from the docs. */
function columns(sql: string, table: string): string[] {
  const body = new RegExp(`CREATE TABLE[^(]*${table} \\(([^;]*)\\);`).exec(sql)?.[1];
  if (body === undefined) throw new Error(`no CREATE TABLE for ${table}`);
  return body
    .replace(/--.*$/gm, "")
    .split(/,\s*(?![^(]*\))/)
    .map((column) => column.trim().split(/\s+/).slice(0, 2).join(" "))
    .filter((column) => !/^(PRIMARY|FOREIGN)/.test(column));
}

describe("docs/stores.md", () => {
  it("shows the PostgreSQL tables with exactly the columns the migration creates", () => {
    expect(columns(docs, "<table>_records")).toEqual(columns(MIGRATION, "{records}"));
    expect(columns(docs, "<table>_chunks")).toEqual(columns(MIGRATION, "{chunks}"));
  });
});
