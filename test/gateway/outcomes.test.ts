// Each request's log line and metrics come from the engine's own decision for it, so the
// user's hooks, whatever they do, never change what the gateway reports.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { IdempotencyHooks } from "../../src/core/hooks.js";
import { createGateway, type Gateway } from "../../src/gateway/index.js";
import { createStore } from "../../src/index.js";
import { newKey, send } from "../helpers/http.js";
import { startUpstream, type Upstream } from "./helpers.js";

let upstream: Upstream;
const gateways: Gateway[] = [];

beforeAll(async () => {
  upstream = await startUpstream();
});
afterEach(async () => {
  await Promise.all(gateways.splice(0).map((gateway) => gateway.close(0)));
});
afterAll(() => upstream?.close());

const EVENTS = [
  "onExecuted",
  "onReplayed",
  "onConflict",
  "onMismatch",
  "onReleased",
  "onStoreError",
] as const;

/** Hooks that count their calls and then misbehave as `how` says. */
function userHooks(how: "throw" | "reject", calls: string[]): IdempotencyHooks {
  return Object.fromEntries(
    EVENTS.map((name) => [
      name,
      () => {
        calls.push(name);
        if (how === "throw") throw new Error(`${name} broke`);
        return Promise.reject(new Error(`${name} broke`));
      },
    ]),
  );
}

/** Sends one request of every kind through a gateway with `hooks`; returns its log lines and metrics. */
async function report(hooks: IdempotencyHooks | undefined) {
  const lines: Array<Record<string, unknown>> = [];
  const logger = {
    info: (fields: object) => lines.push({ ...fields }),
    warn: () => {},
    error: () => {},
  };
  const gateway = createGateway({
    upstream: upstream.url,
    store: await createStore("memory:"),
    logger,
    ...(hooks ? { hooks } : {}),
  });
  gateways.push(gateway);
  const { port } = await gateway.listen(0, "127.0.0.1");
  const url = `http://127.0.0.1:${port}/orders`;
  const key = newKey();
  const slow = send(url, { headers: { "idempotency-key": key, "x-delay": "400" }, body: "a" });
  await sleep(150);
  await send(url, { headers: { "idempotency-key": key }, body: "a" }); // conflict
  await slow; // executed
  await send(url, { headers: { "idempotency-key": key }, body: "a" }); // replayed
  await send(url, { headers: { "idempotency-key": key }, body: "b" }); // mismatch
  await send(url, { headers: { "idempotency-key": newKey(), "x-status": "500" } }); // released
  await send(url, { headers: { "idempotency-key": "" } }); // rejected: an empty key
  await send(url, { body: "no key" }); // passed
  await send(url, { method: "GET" }); // passed: not guarded
  await sleep(100);
  const metrics = (await gateway.metrics.render()).body
    .split("\n")
    .filter((line) =>
      /^oncely_((executed|replayed|conflicts|mismatches|released)_total|request_duration_seconds_count)/.test(
        line,
      ),
    )
    .sort();
  const logged = lines.map(({ outcome, status, key: logKey, scope }) => ({
    outcome,
    status,
    key: logKey === undefined ? "none" : logKey === key ? "key" : "other",
    scope: typeof scope,
  }));
  return { logged, metrics };
}

describe("what the gateway logs and counts per request", () => {
  it("comes from the decision: hooks that are absent, throw or reject change nothing, and still get every event", async () => {
    const plain = await report(undefined);
    expect(plain.logged).toEqual([
      { outcome: "conflict", status: 409, key: "key", scope: "string" },
      { outcome: "executed", status: 201, key: "key", scope: "string" },
      { outcome: "replayed", status: 201, key: "key", scope: "string" },
      { outcome: "mismatch", status: 422, key: "key", scope: "string" },
      { outcome: "released", status: 500, key: "other", scope: "string" },
      { outcome: "rejected", status: 400, key: "none", scope: "undefined" },
      { outcome: "passed", status: 201, key: "none", scope: "undefined" },
      { outcome: "passed", status: 201, key: "none", scope: "undefined" },
    ]);
    expect(plain.metrics).toContain('oncely_request_duration_seconds_count{outcome="passed"} 2');
    expect(plain.metrics).toContain('oncely_released_total{reason="status"} 1');
    for (const how of ["throw", "reject"] as const) {
      const calls: string[] = [];
      expect(await report(userHooks(how, calls))).toEqual(plain);
      expect(calls.sort()).toEqual(
        ["onConflict", "onExecuted", "onExecuted", "onMismatch", "onReleased", "onReplayed"].sort(),
      );
    }
  });
});
