// `npm run mutate` itself is too slow for the suite (docs/guarantees.md gives its figures);
// these checks keep its set-up honest between runs.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../helpers/package.js";

describe("npm run mutate", () => {
  it("refuses to start without the Redis and PostgreSQL test URLs, whose suites its store mutants need", () => {
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith("ONCELY_")),
    );
    const run = spawnSync(process.execPath, ["scripts/mutate.mjs"], {
      cwd: projectRoot,
      encoding: "utf8",
      env,
    });
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe(
      "mutate: set ONCELY_TEST_REDIS_URL and ONCELY_TEST_POSTGRES_URL (the store suites run against real servers)",
    );
  });

  it("mutates line ranges of the stores that still begin at the fenced methods they name", async () => {
    const config = (await import(pathToFileURL(join(projectRoot, "stryker.config.mjs")).href)) as {
      areas: { fencing: string[] };
    };
    const ranges = config.areas.fencing.flatMap((entry) => {
      const match = /^(src\/stores\/.+):(\d+)-(\d+)$/.exec(entry);
      return match ? [{ file: match[1] ?? "", start: Number(match[2]), end: Number(match[3]) }] : [];
    });
    expect(ranges.length).toBeGreaterThanOrEqual(4);
    for (const { file, start, end } of ranges) {
      const lines = readFileSync(join(projectRoot, file), "utf8").split("\n");
      const first = lines[start - 1] ?? "";
      // A range opens with a method or function declaration and holds the owner-token checks.
      expect(first, `${file}:${start}`).toMatch(/^\s*(?:async\s+)?(?:function\s+)?#?\w+\s*[(<]/);
      expect(lines.slice(start - 1, end).join("\n"), `${file}:${start}-${end}`).toMatch(/lease|token/);
      // and closes at the end of one.
      expect(lines[end - 1], `${file}:${end}`).toMatch(/^\s*}$/);
    }
  });
});
