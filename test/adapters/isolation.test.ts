import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);

const FRAMEWORKS = ["express", "hono", "fastify", "fastify-plugin", "koa", "@nestjs/common", "@nestjs/core"];
const ADAPTERS: Record<string, readonly string[]> = {
  node: [],
  express: [],
  fetch: [],
  hono: [],
  fastify: ["fastify-plugin"],
  koa: [],
  nestjs: ["@nestjs/common", "@nestjs/core"],
};

/** The npm packages loaded by importing `module` in a fresh process. */
async function packagesLoadedBy(module: string): Promise<string[]> {
  const { stdout } = await run(process.execPath, [
    "--import",
    "./test/fixtures/record-packages.mjs",
    "--import",
    "tsx",
    "--input-type=module",
    "-e",
    `await import(${JSON.stringify(module)});`,
  ]);
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "[]") as string[];
}

describe("adapter entry points", () => {
  it.each(Object.entries(ADAPTERS))("oncely/%s loads no framework but its own", async (adapter, own) => {
    const loaded = await packagesLoadedBy(`./src/adapters/${adapter}/index.ts`);
    expect(loaded.filter((name) => FRAMEWORKS.includes(name))).toEqual(own);
  });

  it("the recorder sees a framework that is loaded", async () => {
    expect(await packagesLoadedBy("fastify")).toContain("fastify");
  });
});
