import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url);
const page = readFileSync(new URL("docs/guarantees.md", root), "utf8");

/** Every `file` › “test name” reference on the page. */
const references = [...page.matchAll(/`([^`]+\.ts)` › “([^”]+)”/g)].map((match) => ({
  file: match[1] as string,
  name: match[2] as string,
}));

describe("docs/guarantees.md", () => {
  it("backs its promises with tests that exist under the names it gives", () => {
    expect(references.length).toBeGreaterThan(40);
    const missing = references.filter(({ file, name }) => {
      const path = new URL(file, root);
      if (!existsSync(path)) return true;
      // The whole name, as a string literal: a name cut short must not match.
      const source = readFileSync(path, "utf8");
      return !['"', "'", "`"].some((quote) => source.includes(`${quote}${name}${quote}`));
    });
    expect(missing).toEqual([]);
  });

  it("names a test in every promise list", () => {
    // Each bullet list item under a promise either names a test or sits in the two sections
    // that, by their nature, name none.
    const checked = page.slice(0, page.indexOf("## What oncely does not promise"));
    const bullets = checked.split("\n").filter((line) => line.startsWith("- "));
    expect(bullets.filter((line) => !/`[^`]+\.ts` › “/.test(line))).toEqual([]);
  });
});
