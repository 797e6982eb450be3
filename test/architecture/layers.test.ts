import { readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { build } from "esbuild";
import { glob } from "tinyglobby";
import { describe, expect, it } from "vitest";

/** The layer a source file belongs to: its first folder under src/, or the file itself. */
function layerOf(file: string): string {
  const [first = "", second] = relative("src", file).split("/");
  return second === undefined ? first.replace(/\.ts$/, "") : first;
}

/** Every file `file` imports or re-exports from (types included: they are dependencies too). */
function importsOf(file: string): string[] {
  const source = readFileSync(file, "utf8");
  const targets: string[] = [];
  for (const match of source.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]+)"/gms)) {
    targets.push(join(dirname(file), (match[1] as string).replace(/\.js$/, ".ts")));
  }
  return targets;
}

/** Which layers each layer may depend on; everything else points outward. */
const ALLOWED: Record<string, readonly string[]> = {
  store: [],
  core: ["core", "store"],
  stores: ["core", "store", "stores"],
  http: ["core", "store", "http"],
  adapters: ["core", "store", "http", "adapters"],
  records: ["core", "store", "records"],
  dashboard: ["core", "store", "records", "http", "dashboard"],
  gateway: ["core", "store", "stores", "records", "http", "dashboard", "gateway"],
  events: ["core", "store", "stores", "http", "events"],
};

describe("layers", () => {
  it("point inward: core ← stores, http ← adapters, dashboard, gateway, events", async () => {
    const files = await glob("src/**/*.ts");
    const outward: string[] = [];
    for (const file of files) {
      const allowed = ALLOWED[layerOf(file)];
      if (!allowed) continue;
      for (const target of importsOf(file)) {
        if (!allowed.includes(layerOf(target))) outward.push(`${file} → ${target}`);
      }
    }
    expect(files.length).toBeGreaterThan(50);
    expect(outward).toEqual([]);
  });

  it("keep node:http, node:stream and the like out of the oncely/events entry (Workers, Deno)", async () => {
    const result = await build({
      entryPoints: ["src/events/index.ts"],
      bundle: true,
      write: false,
      metafile: true,
      platform: "neutral",
      format: "esm",
      logLevel: "silent",
      external: ["node:*"],
    });
    const builtins = new Set<string>();
    for (const input of Object.values(result.metafile.inputs)) {
      for (const { path, kind } of input.imports) {
        if (path.startsWith("node:") && kind !== "dynamic-import") builtins.add(path);
      }
    }
    // Both exist in Deno, Bun and Workers (nodejs_compat); node:http, node:stream and node:net do not.
    const runtimeNeutral = ["node:crypto", "node:timers/promises"];
    expect([...builtins].filter((name) => !runtimeNeutral.includes(name))).toEqual([]);
  });
});
