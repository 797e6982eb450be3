// Units are named one way: an option that is a duration is a number of milliseconds named
// without a unit (`ttl`, `lease`, `purgeInterval`, `connectTimeout`); names that carried one
// are kept only as deprecated aliases. The Store contract's fields (`leaseMs`, `ttlMs`) are
// values passed between engine and store, not options, and keep their unit (see src/store.ts).
import { readFileSync } from "node:fs";
import { glob } from "tinyglobby";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { ENGINE_SETTINGS } from "../../src/cli/engine-settings.js";
import { LISTEN_SETTINGS, PROXY_SETTINGS, SERVE_SETTINGS } from "../../src/cli/gateway-settings.js";

const UNIT_SUFFIX = /[a-z](Ms|Millis|Milliseconds|Secs|Seconds|Minutes)$/;

/** `Type.property` for every property of an exported `…Options` type whose name ends in a unit and is not deprecated. */
function unitNamedOptions(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node, owner: string | undefined): void => {
    let inside = owner;
    if (
      (ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)) &&
      /Options$/.test(node.name.text)
    ) {
      const exported = node.modifiers?.some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword);
      inside = exported ? node.name.text : undefined;
    }
    if (inside && ts.isPropertySignature(node) && ts.isIdentifier(node.name)) {
      const name = node.name.text;
      if (UNIT_SUFFIX.test(name) && !ts.getJSDocDeprecatedTag(node)) found.push(`${inside}.${name}`);
    }
    ts.forEachChild(node, (child) => visit(child, inside));
  };
  visit(source, undefined);
  return found;
}

describe("units", () => {
  it("no option type names a duration with its unit, except deprecated aliases", async () => {
    const files = await glob("src/**/*.ts");
    expect(files.length).toBeGreaterThan(50);
    expect(files.flatMap(unitNamedOptions)).toEqual([]);
  });

  it("finds an option named with its unit", () => {
    // The check above, on a sample that breaks the rule: it must not pass vacuously.
    const sample = `${process.cwd()}/test/fixtures/unit-named-options.ts`;
    expect(unitNamedOptions(sample)).toEqual(["SampleOptions.timeoutMs"]);
  });

  it("no command-line setting names a duration with its unit", () => {
    const names = Object.keys({
      ...ENGINE_SETTINGS,
      ...LISTEN_SETTINGS,
      ...PROXY_SETTINGS,
      ...SERVE_SETTINGS,
    });
    expect(names.filter((name) => UNIT_SUFFIX.test(name))).toEqual([]);
  });
});
