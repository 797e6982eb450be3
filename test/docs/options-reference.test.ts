import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DEFAULTS } from "../../src/core/options.js";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const source = readFileSync(new URL("../../src/core/options.ts", import.meta.url), "utf8");

/** Option names declared in `interface IdempotencyOptions`. */
function declaredOptions(): string[] {
  const body = /export interface IdempotencyOptions \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? "";
  return [...body.matchAll(/^ {2}(\w+)\??:/gm)].map((match) => match[1] as string);
}

/** Rows of the README's option table: name → default column. */
function documentedOptions(): Map<string, string> {
  const section = readme.slice(readme.indexOf("## Options"), readme.indexOf("### Hooks"));
  return new Map(
    [...section.matchAll(/^\| `(\w+)` \| ([^|]+?) \|/gm)].map((match) => [
      match[1] as string,
      match[2] as string,
    ]),
  );
}

describe("README option reference", () => {
  it("lists every option of IdempotencyOptions and nothing else", () => {
    expect(declaredOptions().length).toBeGreaterThan(10);
    expect([...documentedOptions().keys()].sort()).toEqual(declaredOptions().sort());
  });

  it("states the same defaults as the code", () => {
    const documented = documentedOptions();
    for (const [name, value] of Object.entries(DEFAULTS)) {
      const column = documented.get(name);
      if (column === undefined) continue; // internal defaults (chunk size) and derived ones are not options
      // JSON has no Infinity (a cap that is not set): the README writes it as JavaScript does.
      const expected = Array.isArray(value)
        ? JSON.stringify(value).replaceAll(",", ", ")
        : value === Number.POSITIVE_INFINITY
          ? "Infinity"
          : JSON.stringify(value);
      expect(column.startsWith(`\`${expected}\``), `${name}: ${column}`).toBe(true);
    }
  });
});
