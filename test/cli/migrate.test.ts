import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { runCli } from "../gateway/helpers.js";
import { serviceUrl } from "../helpers/services.js";
import { temporaryDirectory } from "../helpers/stores.js";

describe("oncely migrate", () => {
  it("creates a SQLite file with its tables", async () => {
    const path = join(temporaryDirectory(), "nested", "oncely.db");
    const run = await runCli(["migrate", "--store", `sqlite:${path}`]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`oncely: schema ready in sqlite:${path}\n`);
    expect(existsSync(path)).toBe(true);
  });

  it("fails with one line and a non-zero exit for an unknown store", async () => {
    const run = await runCli(["migrate", "--store", "ftp://user:hunter2@host"]);
    expect(run.code).not.toBe(0);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).not.toContain("hunter2");
  });

  const postgres = serviceUrl("ONCELY_TEST_POSTGRES_URL", "oncely migrate on PostgreSQL");
  if (postgres)
    it("creates the PostgreSQL tables before first use", async () => {
      const table = `migrate_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
      const separator = postgres?.includes("?") ? "&" : "?";
      const run = await runCli(["migrate", "--store", `${postgres}${separator}table=${table}`]);
      expect(run.code).toBe(0);
      const client = new pg.Client({ connectionString: postgres });
      await client.connect();
      try {
        const found = await client.query(
          "SELECT tablename FROM pg_tables WHERE tablename LIKE $1 ORDER BY 1",
          [`${table}%`],
        );
        expect(found.rows.map((row: { tablename: string }) => row.tablename)).toEqual([
          `${table}_chunks`,
          `${table}_records`,
        ]);
        await client.query(
          `DROP TABLE ${table}_chunks, ${table}_records; DROP FUNCTION IF EXISTS ${table}_latest`,
        );
      } finally {
        await client.end();
      }
    });
});
