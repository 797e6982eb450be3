import { readFileSync } from "node:fs";
import { glob } from "tinyglobby";
import { expect, it } from "vitest";

/**
 * Node and most packages mark their private state with a leading underscore
 * (`_readableState`, `_read`, body-parser's `_body`); oncely's own private members use `#`.
 * Reading or replacing the former breaks on any release, so no source file may name one.
 */
it("names no underscore-prefixed property of Node or another package", async () => {
  const files = await glob("src/**/*.ts");
  const uses: string[] = [];
  for (const file of files) {
    readFileSync(file, "utf8")
      .split("\n")
      .forEach((line, index) => {
        // An access (`x._name`, `x?._name`, `x["_name"]`) or a member of a type or object (`{ _name: … }`).
        if (
          /\??\._[A-Za-z]|\[\s*["'`]_[A-Za-z]|[{;]\s*_[A-Za-z]\w*\??\s*:/.test(line.replace(/\/\/.*$/, ""))
        ) {
          uses.push(`${file}:${index + 1}: ${line.trim()}`);
        }
      });
  }
  expect(files.length).toBeGreaterThan(50);
  expect(uses).toEqual([]);
});
