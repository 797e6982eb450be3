// Rule 12 through the gateway: a store that goes away. It needs a store that can die while
// the gateway lives, so it runs its own redis-server on a loopback port (CI installs it
// through scripts/test-services.sh; without the binary the suite says so and is skipped).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, newKey, send } from "../helpers/http.js";
import { type GatewayProcess, startGateway, startUpstream, type Upstream } from "./helpers.js";

const hasRedis = spawnSync("redis-server", ["--version"]).status === 0;
if (!hasRedis && process.env.ONCELY_REQUIRE_SERVICES)
  throw new Error("redis-server is required (ONCELY_REQUIRE_SERVICES)");
if (!hasRedis) console.warn("store-failure suite skipped: redis-server is not installed");

describe.skipIf(!hasRedis)("a store that goes away", () => {
  let upstream: Upstream;
  let redis: ChildProcess;
  let closed: GatewayProcess;
  let open: GatewayProcess;

  beforeAll(async () => {
    upstream = await startUpstream();
    const port = await freePort();
    redis = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      {
        stdio: "ignore",
      },
    );
    for (let i = 0; i < 50; i++) {
      const probe = spawnSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8" });
      if (probe.stdout.trim() === "PONG") break;
      await sleep(100);
    }
    const common = [
      "--upstream",
      upstream.url,
      "--store",
      `redis://127.0.0.1:${port}`,
      "--log-level",
      "warn",
    ];
    [closed, open] = await Promise.all([
      startGateway(common),
      startGateway([...common, "--on-store-error", "open"]),
    ]);
  }, 30_000);

  afterAll(async () => {
    await Promise.all([closed?.stop("SIGKILL"), open?.stop("SIGKILL")]);
    redis?.kill("SIGKILL");
    await upstream?.close();
  });

  it("answers 503 store-unavailable (fail closed), or proxies without deduplication with --on-store-error open", async () => {
    const key = newKey();
    await send(closed.url, { headers: { "idempotency-key": key } });
    expect(
      (await send(closed.url, { headers: { "idempotency-key": key } })).headers.get("x-idempotency-replayed"),
    ).toBe("true");
    expect((await send(`${closed.url}/_oncely/health`, { method: "GET" })).status).toBe(200);

    const exited = once(redis, "exit");
    redis.kill("SIGKILL");
    await exited;

    const unavailable = await send(closed.url, { headers: { "idempotency-key": newKey() } });
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers.get("retry-after")).toBe("1");
    expect(unavailable.json()).toMatchObject({ type: "https://oncely.dev/problems/store-unavailable" });
    const health = await send(`${closed.url}/_oncely/health`, { method: "GET" });
    expect(health.status).toBe(503);
    expect(health.json()).toEqual({ status: "unavailable", store: "unreachable" });

    const before = upstream.count();
    const passed = await send(open.url, { headers: { "idempotency-key": newKey() } });
    expect(passed.status).toBe(201);
    expect(upstream.count()).toBe(before + 1);

    const metrics = (await send(`${closed.url}/_oncely/metrics`, { method: "GET" })).text;
    expect(metrics).toMatch(/^oncely_store_errors_total\{operation="claim"\} [1-9]/m);
  });
});
