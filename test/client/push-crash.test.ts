// kill -9 of `oncely push` in the middle of a batch, then a rerun: every output must be
// complete and correct, and the server must not execute more than it has to.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { temporaryDirectory } from "../helpers/stores.js";
import { push, startPush, summaryOf } from "./processes.js";
import { sha256, transformed, type UploadServer, uploadServer } from "./servers.js";

const FILES = 40;
const CONCURRENCY = 4;

const servers: UploadServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

function workspace(): { cwd: string; files: string[] } {
  const cwd = temporaryDirectory();
  mkdirSync(join(cwd, "photos"));
  const files = Array.from({ length: FILES }, (_, i) => `photos/${String(i).padStart(2, "0")}.raw`);
  for (const [i, file] of files.entries())
    writeFileSync(join(cwd, file), `raw pixels of photo ${i}\n`.repeat(200));
  return { cwd, files };
}

/** Runs push, kills it with SIGKILL once `killAfter` executions happened, then runs it again to the end. */
async function crashAndRerun(server: UploadServer, cwd: string, killAfter: number) {
  const args = [
    "photos/*.raw",
    "--to",
    server.url,
    "--out",
    "out",
    "--ext",
    "jpg",
    "--concurrency",
    String(CONCURRENCY),
  ];
  const doomed = startPush(args, cwd);
  while (server.executions() < killAfter) {
    if (doomed.process.exitCode !== null) throw new Error(`push ended before the kill: ${doomed.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  doomed.process.kill("SIGKILL");
  const { signal } = await doomed.exited;
  expect(signal).toBe("SIGKILL");
  const executionsAtKill = server.executions();
  const journal = readFileSync(join(cwd, ".oncely/push.journal"), "utf8");
  const recorded = journal.split("\n").length - 2; // header and the empty string after the last newline
  expect(recorded).toBeLessThan(FILES);

  const rerun = await push(args, cwd);
  expect(rerun.code).toBe(0);
  return { executionsAtKill, recorded, summary: summaryOf(rerun.stderr) };
}

function expectCompleteOutputs(cwd: string, files: readonly string[]): void {
  for (const file of files) {
    const output = join(cwd, "out", file.replace(/\.raw$/, ".jpg"));
    expect(readFileSync(output, "utf8")).toBe(transformed(readFileSync(join(cwd, file))));
  }
  // No half-written leftovers: only the finished outputs are in the folder.
  expect(readdirSync(join(cwd, "out/photos")).sort()).toEqual(
    files.map((file) => file.replace(/^photos\//, "").replace(/\.raw$/, ".jpg")).sort(),
  );
}

describe("kill -9 of oncely push mid-batch, then a rerun", () => {
  it("through an idempotent server: every file executed exactly once, every output complete", async () => {
    const server = await uploadServer({ guarded: true, delay: 60 });
    servers.push(server);
    const { cwd, files } = workspace();
    const { recorded, summary } = await crashAndRerun(server, cwd, 12);

    expectCompleteOutputs(cwd, files);
    expect(server.perBody.size).toBe(FILES);
    for (const file of files) expect(server.perBody.get(sha256(readFileSync(join(cwd, file))))).toBe(1);
    expect(server.executions()).toBe(FILES);
    expect(summary.skipped).toBe(recorded);
    expect(summary.executed + summary.replayed).toBe(FILES - recorded);
    expect(summary.replayed).toBeLessThanOrEqual(CONCURRENCY);
    expect(existsSync(join(cwd, ".oncely/push.journal"))).toBe(true);
  }, 60_000);

  it("straight to a plain server: re-executions are at most the number that were in flight", async () => {
    const server = await uploadServer({ guarded: false, delay: 60 });
    servers.push(server);
    const { cwd, files } = workspace();
    const { recorded, summary } = await crashAndRerun(server, cwd, 12);

    expectCompleteOutputs(cwd, files);
    const reExecutions = server.executions() - FILES;
    expect(reExecutions).toBeGreaterThanOrEqual(0);
    expect(reExecutions).toBeLessThanOrEqual(CONCURRENCY);
    expect([...server.perBody.values()].every((count) => count === 1 || count === 2)).toBe(true);
    expect(summary).toMatchObject({ skipped: recorded, executed: FILES - recorded, replayed: 0, failed: 0 });
  }, 60_000);
});
