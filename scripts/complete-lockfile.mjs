#!/usr/bin/env node
// Adds to package-lock.json the Biome platform binaries that npm left out.
//
// Why: the registry mirror of our build machines serves only the Linux builds of
// @biomejs/cli-*, so `npm install` there writes a lockfile without the other platforms'
// optional packages, and `npm ci` then refuses the lockfile ("Missing: … from lock
// file"). The entries carry the platform fields, so npm installs each one only where it
// matches and never downloads the others. Run after every `npm install`; it is idempotent.
// test/docs/lockfile.test.ts fails when an entry is missing.
import { readFileSync, writeFileSync } from "node:fs";

const path = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(path, "utf8"));
const biome = lock.packages["node_modules/@biomejs/biome"];
let added = 0;
for (const [name, version] of Object.entries(biome?.optionalDependencies ?? {})) {
  const key = `node_modules/${name}`;
  if (lock.packages[key]) continue;
  const match = /^@biomejs\/cli-(linux|darwin|win32|android)-(x64|arm64)(-musl)?$/.exec(name);
  if (!match) throw new Error(`unexpected Biome optional dependency ${name}`);
  const [, os, cpu, musl] = match;
  lock.packages[key] = {
    version,
    cpu: [cpu],
    dev: true,
    ...(os === "linux" ? { libc: [musl ? "musl" : "glibc"] } : {}),
    license: "MIT OR Apache-2.0",
    optional: true,
    os: [os],
    engines: { node: ">=14.21.3" },
  };
  added++;
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : 1)),
);
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} Biome platform entries`);
