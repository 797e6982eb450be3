// `oncely serve --workers 2`: two real processes on one port sharing one SQLite store,
// refusing the memory store, and draining on SIGTERM.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newKey } from "../helpers/http.js";
import { temporaryDirectory } from "../helpers/stores.js";
import {
  type GatewayProcess,
  rawRequest,
  readResponse,
  runCli,
  startGateway,
  startUpstream,
  type Upstream,
} from "./helpers.js";

/** One request on a connection of its own, so that the cluster hands each to the next worker. */
async function post(url: string, headers: Record<string, string>, body = "{}") {
  const request = rawRequest(url, { headers: { ...headers, "content-type": "application/json" } });
  request.end(body);
  const reply = await readResponse(request);
  return { ...reply, text: reply.body.toString() };
}

describe("oncely serve --workers 2", () => {
  let upstream: Upstream;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    upstream = await startUpstream();
    gateway = await startGateway([
      "--upstream",
      upstream.url,
      "--store",
      `sqlite:${join(temporaryDirectory(), "oncely.db")}`,
      "--workers",
      "2",
    ]);
  }, 60_000);
  afterAll(async () => {
    await gateway?.stop("SIGKILL");
    await upstream?.close();
  });

  it("answers from two processes that share the store: a retry on the other process is a replay", async () => {
    // The cluster deals connections out in turn to the workers free to take one. One at a time,
    // with an odd number of keys, the retries start on the other worker than the first requests
    // did, so keys cross (with an even number, every retry could land where its key first ran).
    const keys = Array.from({ length: 7 }, newKey);
    const firsts = [];
    for (const key of keys) firsts.push(await post(gateway.url, { "idempotency-key": key }));
    const retries = [];
    for (const key of keys) retries.push(await post(gateway.url, { "idempotency-key": key }));
    expect(firsts.map((reply) => reply.status)).toEqual(keys.map(() => 201));
    expect(retries.map((reply) => reply.headers["x-idempotency-replayed"])).toEqual(keys.map(() => "true"));
    expect(retries.map((reply) => reply.text)).toEqual(firsts.map((reply) => reply.text));
    expect(upstream.count()).toBe(keys.length);
    // Every request's log line names the process that answered it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const pids = new Set(gateway.logs.filter((line) => line.msg === "request").map((line) => line.pid));
    expect(pids.size).toBe(2);
    expect(pids.has(gateway.pid)).toBe(false);
    // Some key was executed by one process and replayed by the other.
    const crossed = keys.filter((key) => {
      const lines = gateway.logs.filter((line) => line.msg === "request" && line.key === key);
      return new Set(lines.map((line) => line.pid)).size === 2;
    });
    expect(crossed.length).toBeGreaterThan(0);
  });

  it("drains every worker on SIGTERM: a request in flight is answered, then all exit 0", async () => {
    const slow = post(gateway.url, { "idempotency-key": newKey(), "x-delay": "1500" });
    await new Promise((resolve) => setTimeout(resolve, 400));
    gateway.process.kill("SIGTERM");
    const reply = await slow;
    expect(reply.status).toBe(201);
    expect(await gateway.exited).toBe(0);
    const workerPids = new Set(
      gateway.logs.filter((line) => line.pid !== gateway.pid).map((line) => line.pid as number),
    );
    expect(workerPids.size).toBeGreaterThanOrEqual(2);
    for (const pid of workerPids) expect(() => process.kill(pid, 0)).toThrow();
  }, 30_000);
});

describe("oncely serve --workers with the memory store", () => {
  it("refuses with a one-line error and a non-zero exit", async () => {
    const run = await runCli([
      "serve",
      "--upstream",
      "http://127.0.0.1:9",
      "--store",
      "memory:",
      "--workers",
      "2",
    ]);
    expect(run.code).not.toBe(0);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/--workers 2 needs a store the processes share/);
  });

  it("ends every process with a non-zero exit when the workers reject a setting, instead of restarting them", async () => {
    const run = await runCli([
      "serve",
      "--upstream",
      "http://127.0.0.1:9",
      "--store",
      `sqlite:${join(temporaryDirectory(), "oncely.db")}`,
      "--port",
      "0",
      "--workers",
      "2",
      "--key-json",
      "/a/~",
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/not a valid JSON pointer/);
  }, 30_000);
});
