import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { HttpStatusError, memoryCheckpoint, openJournal, runBatch } from "../../src/client/index.js";
import type { TestServer } from "../helpers/http.js";
import { temporaryDirectory } from "../helpers/stores.js";
import { type UploadServer, uploadServer } from "./servers.js";

const servers: TestServer[] = [];
async function serve(options: Parameters<typeof uploadServer>[0]): Promise<UploadServer> {
  const server = await uploadServer(options);
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** Collects what the batch prints. */
function recorder(isTTY = false) {
  const writes: string[] = [];
  return {
    output: { isTTY, columns: 100, write: (text: string) => writes.push(text) },
    text: () => writes.join(""),
  };
}

const items = (count: number) => Array.from({ length: count }, (_, i) => `item-${i}`);

/** A worker that posts the item and fails on an error answer. */
const post =
  (url: string) =>
  async (item: string, { fetch }: { fetch: (url: string, init: RequestInit) => Promise<Response> }) => {
    const response = await fetch(url, { method: "POST", body: item });
    if (!response.ok) throw new HttpStatusError(response.status, await response.text());
    await response.arrayBuffer();
  };

describe("runBatch", () => {
  it("runs every item once, never more than `concurrency` at a time, and records each", async () => {
    const server = await serve({ guarded: false, delay: 20 });
    const checkpoint = memoryCheckpoint();
    const log = recorder();
    const summary = await runBatch(items(30), post(server.url), {
      key: (item) => `key-${item}`,
      concurrency: 4,
      checkpoint,
      output: log.output,
    });
    expect(summary).toMatchObject({
      executed: 30,
      replayed: 0,
      skipped: 0,
      failed: 0,
      aborted: false,
      warnings: [],
    });
    expect(server.executions()).toBe(30);
    expect(server.maxInFlight()).toBeLessThanOrEqual(4);
    expect(checkpoint.size).toBe(30);
    expect(log.text()).toMatch(
      /done in [\d.]+ s: 30 executed, 0 replayed, 0 skipped by checkpoint, 0 failed\n$/,
    );
  });

  it("skips what the checkpoint holds and goes on past failures, which stay out of the checkpoint", async () => {
    const server = await serve({
      guarded: false,
      respond: (body, res) => {
        if (!body.toString().endsWith("-3")) return false;
        res.writeHead(422).end("bad item");
        return true;
      },
    });
    const checkpoint = memoryCheckpoint(["key-item-0", "key-item-1"]);
    const log = recorder();
    const summary = await runBatch(items(6), post(server.url), {
      key: (item) => (item === "item-5" ? Promise.reject(new Error("no key for 5")) : `key-${item}`),
      checkpoint,
      output: log.output,
      label: (item) => `<${item}>`,
    });
    expect(summary).toMatchObject({ executed: 2, skipped: 2, failed: 2 });
    const failures = [...summary.failures].sort((a, b) => a.item.localeCompare(b.item));
    expect(failures.map((failure) => [failure.item, failure.key])).toEqual([
      ["item-3", "key-item-3"],
      ["item-5", undefined],
    ]);
    expect(failures[0]?.error).toMatchObject({ status: 422 });
    expect(checkpoint.has("key-item-3")).toBe(false);
    expect(checkpoint.size).toBe(4);
    expect(log.text()).toContain("failed <item-3>: server answered 422: bad item\n");
    expect(log.text()).toContain("failed <item-5>: no key for 5\n");
  });

  it("counts replays from an idempotent server and warns when they exceed 20% of calls", async () => {
    const server = await serve({ guarded: true });
    const key = (item: string) => `key-${item}`;
    const quiet = { key, progress: false } as const;
    await runBatch(items(20), post(server.url), quiet);
    // A new, empty checkpoint: as if the journal were not read back.
    const log = recorder();
    const summary = await runBatch(items(25), post(server.url), { key, output: log.output, concurrency: 2 });
    expect(summary).toMatchObject({ executed: 5, replayed: 20 });
    expect(server.executions()).toBe(25);
    expect(summary.warnings).toHaveLength(1);
    expect(log.text()).toMatch(
      /warning: 20 of 25 items that reached the server were replays: the checkpoint/,
    );
  });

  it("does not warn about the few replays of items that were in flight during a crash", async () => {
    const server = await serve({ guarded: true });
    const key = (item: string) => `key-${item}`;
    await runBatch(items(3), post(server.url), { key, progress: false });
    const summary = await runBatch(items(5), post(server.url), { key, progress: false, concurrency: 4 });
    expect(summary).toMatchObject({ executed: 2, replayed: 3, warnings: [] });
  });

  it("stops on abort: nothing new starts, items in flight are interrupted and left for the next run", async () => {
    const server = await serve({ guarded: false, delay: 200 });
    const dir = temporaryDirectory();
    const checkpoint = openJournal(join(dir, "batch.journal"));
    const controller = new AbortController();
    const log = recorder();
    const batch = runBatch(items(20), post(server.url), {
      key: (item) => `key-${item}`,
      concurrency: 3,
      checkpoint,
      signal: controller.signal,
      output: log.output,
    });
    while (checkpoint.size < 3) await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort();
    const summary = await batch;
    expect(summary.aborted).toBe(true);
    expect(summary.failed).toBe(0);
    expect(summary.interrupted).toBeGreaterThan(0);
    expect(summary.executed + summary.interrupted).toBeLessThan(20);
    expect(checkpoint.size).toBe(summary.executed);
    expect(log.text()).toMatch(/aborted: \d+ in flight were stopped; run again to finish the rest/);
    await checkpoint.close();

    const resumed = openJournal(join(dir, "batch.journal"));
    const rest = await runBatch(items(20), post(server.url), {
      key: (item) => `key-${item}`,
      checkpoint: resumed,
      progress: false,
    });
    expect(rest).toMatchObject({ skipped: summary.executed, executed: 20 - summary.executed, failed: 0 });
    await resumed.close();
  });

  it("pulls async iterables lazily and prints plain progress lines when not on a TTY", async () => {
    let pulled = 0;
    async function* source() {
      for (let i = 0; i < 6; i++) {
        pulled++;
        yield i;
      }
    }
    const log = recorder();
    const seen: number[] = [];
    const summary = await runBatch(
      source(),
      async (item) => {
        expect(pulled).toBeLessThanOrEqual(item + 2);
        seen.push(item);
        await new Promise((resolve) => setTimeout(resolve, 40));
      },
      { key: String, concurrency: 2, output: log.output, progressInterval: 50 },
    );
    expect(summary.executed).toBe(6);
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(log.text()).toMatch(/^\d+: \d+ executed, 0 replayed, 0 skipped, 0 failed · [\d.]+\/s$/m);
    expect(log.text()).not.toContain("\r");
  });

  it("draws a bar on a TTY and clears it before the summary", async () => {
    const log = recorder(true);
    await runBatch(items(5), async () => {}, { key: String, output: log.output });
    const clearLine = "\r\u001b[2K";
    expect(log.text()).toMatch(/\[#+-*\] \d\/5 \(\d+%\)/);
    expect(log.text()).toContain(`${clearLine}[`);
    expect(log.text()).toContain(`${clearLine}done in`);
  });

  it("rejects a bad concurrency", async () => {
    await expect(runBatch([], async () => {}, { key: String, concurrency: 0 })).rejects.toThrow(
      /concurrency/,
    );
  });
});
