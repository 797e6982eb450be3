import { readFileSync } from "node:fs";
import { glob } from "tinyglobby";
import { expect, it } from "vitest";

const docs = readFileSync(new URL("../../docs/errors.md", import.meta.url), "utf8");

/** Every code a class of src/ passes to `OncelyError`: string literals `"ONCELY_…"` in calls. */
async function codesInSource(): Promise<Map<string, string>> {
  const codes = new Map<string, string>();
  for (const file of await glob("src/**/*.ts")) {
    const source = readFileSync(file, "utf8");
    for (const [, className, code] of source.matchAll(
      /class (\w+) extends \w*Error\b(?:(?!\bclass\b)[\s\S])*?super\(\s*"(ONCELY_[A-Z_]+)"/g,
    )) {
      codes.set(code as string, className as string);
    }
  }
  return codes;
}

/** Rows of the docs table: code → class. */
function documentedCodes(): Map<string, string> {
  return new Map(
    [...docs.matchAll(/^\| `(ONCELY_[A-Z_]+)` \| `(\w+)` \|/gm)].map((match) => [
      match[1] as string,
      match[2] as string,
    ]),
  );
}

it("docs/errors.md lists every error code with its class, and nothing else", async () => {
  const inSource = await codesInSource();
  expect(inSource.size).toBeGreaterThan(20);
  expect(Object.fromEntries([...documentedCodes()].sort())).toEqual(Object.fromEntries([...inSource].sort()));
});

it("no source file names an ONCELY_ code that no error class has", async () => {
  const known = await codesInSource();
  const stray: string[] = [];
  for (const file of await glob("src/**/*.ts")) {
    for (const [code] of readFileSync(file, "utf8").matchAll(/"ONCELY_[A-Z_]+"/g)) {
      if (!known.has(code.slice(1, -1))) stray.push(`${file}: ${code}`);
    }
  }
  expect(stray).toEqual([]);
});
