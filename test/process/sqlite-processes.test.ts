import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { newKey, send } from "../helpers/http.js";
import { type Child, executions, startChild } from "../helpers/processes.js";
import { temporaryDirectory } from "../helpers/stores.js";

const server = "test/fixtures/guarded-server.ts";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("several processes sharing one SQLite file", () => {
  const children: Child[] = [];
  const start = async (args: string[]) => {
    const child = await startChild(server, args);
    children.push(child);
    return child;
  };
  afterEach(async () => {
    await Promise.all(children.splice(0).map((child) => child.stop("SIGKILL")));
  });

  it("runs the handler exactly once for 100 concurrent same-key requests spread over 4 processes", async () => {
    const dir = temporaryDirectory();
    const args = [`sqlite:${join(dir, "shared.db")}`, join(dir, "count"), JSON.stringify({ wait: 20_000 })];
    const processes = await Promise.all([start(args), start(args), start(args), start(args)]);
    const key = newKey();
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        send((processes[i % 4] as Child).url, { headers: { "idempotency-key": key, "x-delay": "100" } }),
      ),
    );
    expect(executions(join(dir, "count"))).toBe(1);
    expect(new Set(replies.map((reply) => reply.text)).size).toBe(1);
    expect(replies.every((reply) => reply.status === 201)).toBe(true);
  }, 60_000);

  it("lets the key be claimed again once the lease of a killed process lapses, then replays it", async () => {
    const dir = temporaryDirectory();
    const args = [`sqlite:${join(dir, "crash.db")}`, join(dir, "count"), JSON.stringify({ lease: 1000 })];
    // Both start first: a process start can take longer than the lease on a loaded machine.
    const [first, second] = await Promise.all([start(args), start(args)]);
    const key = newKey();
    const doomed = send(first.url, { headers: { "idempotency-key": key, "x-delay": "30000" } }).catch(
      () => "killed",
    );
    while (executions(join(dir, "count")) === 0) await sleep(10);
    await first.stop("SIGKILL");
    expect(await doomed).toBe("killed");
    expect(executions(join(dir, "count"))).toBe(1);

    expect((await send(second.url, { headers: { "idempotency-key": key } })).status).toBe(409);
    await sleep(1200);
    const retry = await send(second.url, { headers: { "idempotency-key": key } });
    expect(retry.status).toBe(201);
    expect(retry.json()).toEqual({ pid: second.pid });
    expect(executions(join(dir, "count"))).toBe(2);

    // The completed record survives kill -9 of the process that stored it.
    await second.stop("SIGKILL");
    const third = await start(args);
    for (let i = 0; i < 3; i++) {
      const replay = await send(third.url, { headers: { "idempotency-key": key } });
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      expect(replay.json()).toEqual({ pid: second.pid });
    }
    expect(executions(join(dir, "count"))).toBe(2);
  }, 60_000);

  it("fences a stale owner: a frozen process that wakes after a takeover cannot overwrite the new record", async () => {
    const dir = temporaryDirectory();
    const args = [`sqlite:${join(dir, "fence.db")}`, join(dir, "count"), JSON.stringify({ lease: 500 })];
    const stale = await start(args);
    const fresh = await start(args);
    const key = newKey();
    const staleReply = send(stale.url, { headers: { "idempotency-key": key, "x-delay": "300" } });
    await sleep(100);
    stale.process.kill("SIGSTOP");
    await sleep(900); // the frozen owner cannot renew; its lease lapses
    const takeover = await send(fresh.url, { headers: { "idempotency-key": key, "x-delay": "300" } });
    expect(takeover.json()).toEqual({ pid: fresh.pid });
    stale.process.kill("SIGCONT");
    expect((await staleReply).json()).toEqual({ pid: stale.pid }); // its own client still gets its answer
    await sleep(200);
    for (const child of [stale, fresh]) {
      const replay = await send(child.url, { headers: { "idempotency-key": key } });
      expect(replay.json()).toEqual({ pid: fresh.pid });
    }
    expect(executions(join(dir, "count"))).toBe(2);
  }, 60_000);
});
