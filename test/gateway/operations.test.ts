// What operators see of the gateway: health, metrics, logs and graceful shutdown.
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { newKey, send } from "../helpers/http.js";
import { temporaryDirectory } from "../helpers/stores.js";
import { type GatewayProcess, startGateway, startUpstream, type Upstream } from "./helpers.js";

let upstream: Upstream;
const gateways: GatewayProcess[] = [];

async function gatewayWith(...args: string[]): Promise<GatewayProcess> {
  const child = await startGateway(["--upstream", upstream.url, ...args]);
  gateways.push(child);
  return child;
}

beforeAll(async () => {
  upstream = await startUpstream();
});

afterEach(async () => {
  await Promise.all(gateways.splice(0).map((child) => child.stop("SIGKILL")));
});

afterAll(() => upstream?.close());

/** The value of one sample in Prometheus text, e.g. `oncely_released_total{reason="status"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("health", () => {
  it("reports a reachable store, never caches, and answers only GET and HEAD", async () => {
    const gateway = await gatewayWith("--store", `sqlite:${join(temporaryDirectory(), "health.db")}`);
    const health = await send(`${gateway.url}/_oncely/health`, { method: "GET" });
    expect(health.status).toBe(200);
    expect(health.json()).toEqual({ status: "ok", store: "reachable" });
    expect(health.headers.get("cache-control")).toBe("no-store");
    const post = await send(`${gateway.url}/_oncely/health`, { method: "POST" });
    expect([post.status, post.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
    expect(post.headers.get("content-type")).toBe("application/problem+json");
    expect(post.json()).toMatchObject({
      type: "https://oncely.dev/problems/method-not-allowed",
      status: 405,
    });
    const missing = await send(`${gateway.url}/_oncely/nothing`, { method: "GET" });
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-type")).toBe("application/problem+json");
    expect(missing.json()).toMatchObject({
      type: "https://oncely.dev/problems/not-found",
      status: 404,
      detail: "no such endpoint; try /_oncely/health or /_oncely/metrics",
    });
  });
});

describe("metrics", () => {
  it("counts executions, replays, conflicts, mismatches, releases, requests in flight and latency", async () => {
    const gateway = await gatewayWith("--store", "memory:", "--log-level", "warn");
    const key = newKey();
    const slow = send(gateway.url, { headers: { "idempotency-key": key, "x-delay": "800" }, body: "a" });
    await sleep(300);
    const during = (await send(`${gateway.url}/_oncely/metrics`, { method: "GET" })).text;
    expect(sample(during, "oncely_in_flight_requests")).toBe(1);
    expect(sample(during, "oncely_in_flight_executions")).toBe(1);
    expect((await send(gateway.url, { headers: { "idempotency-key": key }, body: "a" })).status).toBe(409);
    await slow;
    await send(gateway.url, { headers: { "idempotency-key": key }, body: "a" });
    expect((await send(gateway.url, { headers: { "idempotency-key": key }, body: "b" })).status).toBe(422);
    await send(gateway.url, { headers: { "idempotency-key": newKey(), "x-status": "500" } });
    await send(gateway.url, { method: "GET" });

    const metrics = await send(`${gateway.url}/_oncely/metrics`, { method: "GET" });
    expect(metrics.headers.get("content-type")).toContain("text/plain");
    const text = metrics.text;
    expect(sample(text, 'oncely_executed_total{stored="true"}')).toBe(1);
    expect(sample(text, 'oncely_executed_total{stored="false"}')).toBe(1);
    expect(sample(text, "oncely_replayed_total")).toBe(1);
    expect(sample(text, "oncely_conflicts_total")).toBe(1);
    expect(sample(text, "oncely_mismatches_total")).toBe(1);
    expect(sample(text, 'oncely_released_total{reason="status"}')).toBe(1);
    expect(sample(text, "oncely_in_flight_requests")).toBe(0);
    expect(sample(text, 'oncely_request_duration_seconds_count{outcome="executed"}')).toBe(1);
    expect(sample(text, 'oncely_request_duration_seconds_count{outcome="replayed"}')).toBe(1);
    expect(sample(text, 'oncely_request_duration_seconds_count{outcome="passed"}')).toBe(1);
    expect(sample(text, 'oncely_request_duration_seconds_bucket{le="+Inf",outcome="conflict"}')).toBe(1);
  });
});

describe("logs", () => {
  it("writes one JSON line per request with key, scope hash, outcome and timing, and never the credential", async () => {
    const gateway = await gatewayWith("--store", "memory:");
    const key = newKey();
    const headers = { "idempotency-key": key, authorization: "Bearer top-secret-token" };
    await send(`${gateway.url}/orders?token=query-secret`, { headers });
    await send(`${gateway.url}/orders?token=query-secret`, { headers });
    await send(`${gateway.url}/status`, { method: "GET", headers });
    await sleep(200);
    const requests = gateway.logs.filter((line) => line.msg === "request");
    expect(requests).toHaveLength(3);
    expect(requests[0]).toMatchObject({
      method: "POST",
      path: "/orders",
      status: 201,
      outcome: "executed",
      key,
    });
    expect(requests[1]).toMatchObject({ outcome: "replayed", key });
    expect(requests[2]).toMatchObject({ method: "GET", outcome: "passed" });
    expect(requests[0]?.scope).toMatch(/^cred:[\w-]{43}$/);
    expect(requests[1]?.scope).toBe(requests[0]?.scope);
    expect(typeof requests[0]?.ms).toBe("number");
    const everything = JSON.stringify(gateway.logs);
    expect(everything).not.toContain("top-secret-token");
    expect(everything).not.toContain("query-secret");
  });

  it("writes no request lines with --log-level warn", async () => {
    const gateway = await gatewayWith("--store", "memory:", "--log-level", "warn");
    await send(gateway.url, { headers: { "idempotency-key": newKey() } });
    await sleep(200);
    // (The listening line came before, while the gateway was starting.)
    expect(gateway.logs).toEqual([]);
  });
});

describe("graceful shutdown on SIGTERM", () => {
  it("stops accepting, lets the request in flight finish, and exits 0", async () => {
    const gateway = await gatewayWith("--store", "memory:", "--log-level", "warn");
    const key = newKey();
    const inFlight = send(gateway.url, { headers: { "idempotency-key": key, "x-delay": "1000" } });
    await sleep(300);
    gateway.process.kill("SIGTERM");
    await sleep(200);
    await expect(send(gateway.url, { headers: { "idempotency-key": newKey() } })).rejects.toThrow();
    const finished = await inFlight;
    expect(finished.status).toBe(201);
    expect(await gateway.exited).toBe(0);
  });

  it("releases the key of a request that outlasts --shutdown-grace, cuts it off, and exits 0", async () => {
    const store = `sqlite:${join(temporaryDirectory(), "grace.db")}`;
    const gateway = await gatewayWith("--store", store, "--shutdown-grace", "300ms");
    const key = newKey();
    const cutOff = send(gateway.url, { headers: { "idempotency-key": key, "x-delay": "3000" } }).catch(
      () => "cut off",
    );
    await sleep(300);
    gateway.process.kill("SIGINT");
    expect(await cutOff).toBe("cut off");
    expect(await gateway.exited).toBe(0);
    expect(gateway.logs.find((line) => String(line.msg).startsWith("grace period over"))).toMatchObject({
      abandoned: 1,
    });

    // The key is free at once: no lease to wait for, so the retry executes.
    const successor = await gatewayWith("--store", store, "--log-level", "warn");
    const retry = await send(successor.url, { headers: { "idempotency-key": key } });
    expect(retry.status).toBe(201);
    expect(retry.headers.get("x-idempotency-replayed")).toBeNull();
  });
});
