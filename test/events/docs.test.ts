import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as events from "../../src/events/index.js";
import { OncelyError } from "../../src/index.js";

const docs = readFileSync(new URL("../../docs/events.md", import.meta.url), "utf8");

/** Rows of a docs table whose first column is a code span: first column → second column (padding ignored). */
function tableRows(section: string): Map<string, string> {
  const start = docs.indexOf(section);
  const text = docs.slice(start, docs.indexOf("\n## ", start + section.length));
  return new Map(
    [...text.matchAll(/^\|\s*`(\w+)`\s*\|\s*([^|]*?)\s*\|/gm)].map((m) => [m[1] as string, m[2] as string]),
  );
}

describe("docs/events.md", () => {
  it("lists every error oncely/events exports, with its code", () => {
    const errors: Array<[string, new (...args: string[]) => OncelyError]> = [];
    for (const [name, value] of Object.entries(events) as Array<[string, unknown]>) {
      if (typeof value === "function" && value.prototype instanceof OncelyError) {
        errors.push([name, value as new (...args: string[]) => OncelyError]);
      }
    }
    expect(errors.length).toBeGreaterThanOrEqual(5);
    const documented = tableRows("## Errors");
    for (const [name, ErrorClass] of errors) {
      const { code } = new ErrorClass("a", "b", "c");
      expect(documented.get(code), code).toBe(`\`${name}\``);
    }
  });

  it("states the same option defaults as the code", () => {
    const documented = tableRows("### Options");
    for (const [name, value] of Object.entries(events.EVENT_DEFAULTS)) {
      expect(documented.get(name)?.startsWith(`\`${JSON.stringify(value)}\``), name).toBe(true);
    }
  });

  it("names every extractor oncely/events exports", () => {
    const extractors = Object.keys(events).filter((name) => /Id$/.test(name));
    expect(extractors.length).toBeGreaterThanOrEqual(6);
    for (const name of extractors) expect(docs).toContain(`| \`${name}`);
  });
});
