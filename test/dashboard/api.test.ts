// The dashboard's JSON API on its own, against a real gateway with real traffic: access
// (off without a token, 401 without the right one, read-only unless write is on), counts
// that match the traffic sent, records in flight, lookups that never show a credential.
import express from "express";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { idempotency } from "../../src/adapters/express/index.js";
import { Activity } from "../../src/dashboard/activity.js";
import {
  type ActivitySnapshot,
  createDashboard,
  type RecordDetail,
  type RecordsOverview,
} from "../../src/dashboard/index.js";
import { createGateway, type Gateway } from "../../src/gateway/gateway.js";
import type { GatewayOptions } from "../../src/gateway/options.js";
import { createStore } from "../../src/stores/create-store.js";
import { runCli, startUpstream, type Upstream } from "../gateway/helpers.js";
import { listen, newKey, type Reply, send, type TestServer } from "../helpers/http.js";
import { failing } from "../helpers/stores.js";

const TOKEN = "t0ken-for-the-dashboard-tests";
const CREDENTIAL = "Bearer customer-secret-123";

let upstream: Upstream;
beforeAll(async () => {
  upstream = await startUpstream();
});
afterAll(() => upstream?.close());

const running: Gateway[] = [];
afterEach(async () => {
  for (const gateway of running.splice(0)) {
    await gateway.close(0);
    await gateway.engine.options.store.close();
  }
});

async function gatewayWith(options: Partial<GatewayOptions> = {}): Promise<string> {
  const gateway = createGateway({ upstream: upstream.url, store: await createStore("memory:"), ...options });
  running.push(gateway);
  return `http://127.0.0.1:${(await gateway.listen(0, "127.0.0.1")).port}`;
}

function api(url: string, path: string, init: { method?: string; token?: string } = {}): Promise<Reply> {
  const token = init.token ?? TOKEN;
  return send(`${url}/_oncely/api${path}`, {
    method: init.method ?? "GET",
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
}

type ActivityReply = ActivitySnapshot & { replayWarningRate: number; write: boolean };
type Overview = RecordsOverview & { listable: boolean };
type Lookup = { key: string; records: RecordDetail[] };
const activityOf = async (url: string) => (await api(url, "/activity")).json() as ActivityReply;
const recordsOf = async (url: string) => (await api(url, "/records")).json() as Overview;
const lookupOf = async (url: string, key: string, query = "") =>
  (await api(url, `/records/${encodeURIComponent(key)}${query}`)).json() as Lookup;

const post = (url: string, key: string, headers: Record<string, string> = {}, body = "{}") =>
  send(`${url}/orders`, { headers: { "idempotency-key": key, authorization: CREDENTIAL, ...headers }, body });

async function until(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("access", () => {
  it("is off without a token: neither the page nor the API exists", async () => {
    const url = await gatewayWith();
    expect((await send(`${url}/_oncely/`, { method: "GET" })).status).toBe(404);
    expect((await api(url, "/activity")).status).toBe(404);
  });

  it("serves the self-contained page to anyone, and the API only with the token", async () => {
    const url = await gatewayWith({ dashboardToken: TOKEN });
    const page = await send(`${url}/_oncely/`, { method: "GET" });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(page.text).not.toMatch(/<(script|link)[^>]+(src|href)=/);
    expect(page.text).not.toContain(TOKEN);
    for (const token of ["", "wrong-token-of-some-length"]) {
      const denied = await api(url, "/activity", { token });
      expect(denied.status).toBe(401);
      expect(denied.headers.get("content-type")).toBe("application/problem+json");
      expect(denied.json()).toMatchObject({ type: "https://oncely.dev/problems/dashboard-unauthorized" });
    }
    expect((await api(url, "/activity")).status).toBe(200);
  });

  it("refuses a token shorter than 16 characters, in the library and with one line from oncely serve", async () => {
    await expect(gatewayWith({ dashboardToken: "short" })).rejects.toThrow(/at least 16 characters/);
    const run = await runCli(["serve", "--upstream", upstream.url, "--store", "memory:"], {
      ONCELY_DASHBOARD_TOKEN: "short",
    });
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe("error: the dashboard token must be a string of at least 16 characters");
  });

  it("is read-only by default: delete and purge answer 403 and delete nothing", async () => {
    const url = await gatewayWith({ dashboardToken: TOKEN });
    const key = newKey();
    await post(url, key);
    const [record] = (await lookupOf(url, key)).records;
    const deleted = await api(url, `/records/${key}?scope=${record?.scope}`, { method: "DELETE" });
    expect(deleted.status).toBe(403);
    expect(deleted.json()).toMatchObject({ type: "https://oncely.dev/problems/dashboard-read-only" });
    expect((await api(url, "/purge", { method: "POST" })).status).toBe(403);
    expect((await post(url, key)).headers.get("x-idempotency-replayed")).toBe("true");
  });

  it("with write on, deletes one record so that its key executes again, and purges", async () => {
    const url = await gatewayWith({ dashboardToken: TOKEN, dashboardWrite: true });
    const key = newKey();
    await post(url, key);
    const [record] = (await lookupOf(url, key)).records;
    expect((await api(url, `/records/${key}?scope=other`, { method: "DELETE" })).json()).toEqual({
      deleted: false,
    });
    const deleted = await api(url, `/records/${encodeURIComponent(key)}?scope=${record?.scope}`, {
      method: "DELETE",
    });
    expect(deleted.json()).toEqual({ deleted: true });
    expect((await post(url, key)).headers.get("x-idempotency-replayed")).toBeNull();
    expect((await api(url, "/purge", { method: "POST" })).json()).toEqual({ purged: 0 });
  });
});

describe("activity", () => {
  it("counts executions, replays, conflicts, mismatches, releases and store errors as sent", async () => {
    const url = await gatewayWith({ dashboardToken: TOKEN });
    const keys = [newKey(), newKey(), newKey()];
    for (const key of keys) expect((await post(url, key)).status).toBe(201); // 3 executions
    await post(url, keys[0] as string); // replay
    await post(url, keys[1] as string); // replay
    await post(url, keys[2] as string, {}, '{"other":1}'); // mismatch (422)
    const slow = newKey();
    const first = post(url, slow, { "x-delay": "3000" });
    await until(async () => (await recordsOf(url)).inFlight.length === 1);
    expect((await post(url, slow)).status).toBe(409); // conflict
    await first; // a 4th execution
    await post(url, newKey(), { "x-status": "500" }); // a 5th execution, released
    const activity = await activityOf(url);
    expect(activity.totals).toEqual({
      executed: 5,
      replayed: 2,
      conflicts: 1,
      mismatches: 1,
      released: 1,
      storeErrors: 0,
    });
    const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
    expect(sum(activity.series.executed)).toBe(5);
    expect(activity.series.executed).toHaveLength(activity.seconds);
    expect(activity.replayRate).toBeCloseTo(2 / 7);
    expect(activity.replayWarningRate).toBe(0.2);
    expect(activity.write).toBe(false);
    expect(activity.recent).toHaveLength(10);
    expect(activity.recent.slice(0, 2)).toContainEqual(
      expect.objectContaining({ kind: "released", status: 500, method: "POST", path: "/orders" }),
    );
    expect(JSON.stringify(activity)).not.toContain("customer-secret");
  });

  it("counts store errors", async () => {
    const store = failing(await createStore("memory:"), "claim", new Error("down"));
    const url = await gatewayWith({ dashboardToken: TOKEN, store });
    expect((await post(url, newKey())).status).toBe(503);
    expect((await activityOf(url)).totals.storeErrors).toBe(1);
  });

  it("keeps per-second series that slide with the clock", () => {
    let now = 1_000_000;
    const activity = new Activity(() => now);
    const hooks = activity.observe();
    const event = { key: "k", scope: "anonymous", method: "POST", path: "/a?secret=1" };
    hooks.onReplayed?.({ ...event, status: 200 });
    now += 1000;
    hooks.onExecuted?.({ ...event, status: 201, stored: true, durationMs: 1 });
    hooks.onExecuted?.({ ...event, status: 201, stored: true, durationMs: 1 });
    let snapshot = activity.snapshot();
    expect(snapshot.series.replayed.slice(-2)).toEqual([1, 0]);
    expect(snapshot.series.executed.slice(-2)).toEqual([0, 2]);
    expect(snapshot.recent[0]?.path).toBe("/a");
    now += 1000 * snapshot.seconds;
    snapshot = activity.snapshot();
    expect(snapshot.series.executed.every((count) => count === 0)).toBe(true);
    expect(snapshot.totals.executed).toBe(2);
    expect(snapshot.replayRate).toBeNull();
  });
});

describe("records", () => {
  it("shows a record in flight with its lease age, and the latest records with outcome, status and size", async () => {
    const url = await gatewayWith({ dashboardToken: TOKEN });
    const done = newKey();
    await post(url, done, { "x-size": "1234" });
    const stuck = newKey();
    const inFlight = post(url, stuck, { "x-delay": "1500" });
    await until(async () => (await recordsOf(url)).inFlight.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 250));
    const overview = await recordsOf(url);
    expect(overview.listable).toBe(true);
    expect(overview.inFlight).toHaveLength(1);
    expect(overview.inFlight[0]).toMatchObject({ key: stuck, state: "in_flight" });
    expect(overview.inFlight[0]?.leaseAgeMs).toBeGreaterThanOrEqual(200);
    expect(overview.latest.map((record: { key: string }) => record.key)).toEqual([stuck, done]);
    expect(overview.latest[1]).toMatchObject({ state: "completed", status: 201, bodyBytes: 1234 });
    await inFlight;
    expect((await recordsOf(url)).inFlight).toEqual([]);
  });

  it("looks a key up: scope as its hash, credential headers redacted, the body only when asked", async () => {
    const url = await gatewayWith({ dashboardToken: TOKEN, responseHeaders: { deny: [] } });
    const key = newKey();
    const original = await post(url, key, { "x-set-cookie": "1" });
    const plain = await api(url, `/records/${encodeURIComponent(key)}`);
    const [record] = (plain.json() as Lookup).records;
    expect(record?.scope).toMatch(/^cred:[\w-]{43}$/);
    expect(record?.headers).toContainEqual(["set-cookie", "[redacted]"]);
    expect(record?.body).toBeUndefined();
    expect(plain.text).not.toContain("customer-secret");
    expect(plain.text).not.toContain("session=secret");
    const withBody = (await lookupOf(url, key, "?body=true")).records[0];
    expect(withBody?.body).toEqual({ encoding: "utf8", text: original.text, truncated: false });
    expect(await lookupOf(url, "no-such-key")).toEqual({ key: "no-such-key", records: [] });
  });

  it("shows a custom scope only as a hash", async () => {
    const url = await gatewayWith({ dashboardToken: TOKEN, scope: () => "tenant-acme" });
    const key = newKey();
    await post(url, key);
    const reply = await api(url, `/records/${key}`);
    expect((reply.json() as Lookup).records[0]?.scope).toMatch(/^sha256:[\w-]{43}$/);
    expect(reply.text).not.toContain("tenant-acme");
  });
});

describe("in your own app: oncely/dashboard", () => {
  let server: TestServer;
  afterEach(() => server?.close());

  it("mounts as Express middleware and counts what the app's middleware decides", async () => {
    const store = await createStore("memory:");
    const dashboard = createDashboard({ store, token: TOKEN, basePath: "/ops" });
    const app = express();
    app.use(dashboard.middleware);
    app.use(idempotency({ store, hooks: dashboard.observe() }));
    app.post("/orders", (_req, res) => {
      res.status(201).json({ ok: true });
    });
    server = await listen(app);
    const key = newKey();
    await send(`${server.url}/orders`, { headers: { "idempotency-key": key } });
    await send(`${server.url}/orders`, { headers: { "idempotency-key": key } });
    expect((await send(`${server.url}/ops/`, { method: "GET" })).text).toContain("<title>oncely dashboard");
    const activity = await send(`${server.url}/ops/api/activity`, {
      method: "GET",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect((activity.json() as ActivityReply).totals).toMatchObject({ executed: 1, replayed: 1 });
    expect((await send(`${server.url}/elsewhere`, { method: "GET" })).status).toBe(404);
    await store.close();
  });
});
