// An owner whose claim comes back after its lease may have lapsed must not execute: by then
// another instance may have taken the key over and run the side effect. Real processes, real
// stores, and a TCP proxy on loopback that makes the store's answer arrive late.
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createDeduper } from "../../src/events/index.js";
import { createEngine, createStore, type StoreErrorEvent, StoreUnavailableError } from "../../src/index.js";
import { type GatewayProcess, startGateway, startUpstream, type Upstream } from "../gateway/helpers.js";
import { guardedServer } from "../helpers/guarded.js";
import { newKey, send } from "../helpers/http.js";
import { type Child, executions, startChild } from "../helpers/processes.js";
import { serviceUrl } from "../helpers/services.js";
import { failing, slowAt, temporaryDirectory } from "../helpers/stores.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { uniquePrefix } from "../stores/redis-support.js";

const LEASE_MS = 600;
/** After the store answered the late owner's claim: its lease has surely lapsed then. */
const LAPSED_MS = LEASE_MS + 200;
/**
 * How late the store's answers arrive: well past the lease, and below the Redis store's
 * 2 s command timeout (a claim that times out is a plain store failure, not a late claim).
 */
const LATE_MS = 1500;

/** The problem a late claim gets. */
const TOO_LATE = {
  type: "https://oncely.dev/problems/store-unavailable",
  status: 503,
  detail: "the idempotency store answered too late to start safely; retry later",
};

/** Resolves once the store has answered a request about `text` through `proxy` (and runs `action` then). */
function answered(proxy: TcpProxy, text: string, action: () => void = () => {}): Promise<void> {
  return new Promise((resolve) =>
    proxy.onReplyTo(text, () => {
      action();
      resolve();
    }),
  );
}

const children: Child[] = [];
const proxies: TcpProxy[] = [];
afterEach(async () => {
  await Promise.all(children.splice(0).map((child) => child.stop("SIGKILL")));
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

/** `url` with its port replaced by a proxy's: the same store, reached through the proxy. */
function throughProxy(url: string, proxy: TcpProxy): string {
  const parsed = new URL(url);
  parsed.port = String(proxy.port);
  return parsed.toString();
}

async function proxyTo(url: string): Promise<TcpProxy> {
  const proxy = await startTcpProxy(Number(new URL(url).port));
  proxies.push(proxy);
  return proxy;
}

describe("a claim the store answers at once", () => {
  it("executes under a lease as short as 10 ms", async () => {
    const store = await createStore("memory:");
    try {
      const engine = createEngine({ store, lease: 10 });
      // Two thirds of 10 ms is a short time on a loaded machine: one execution out of five
      // attempts shows the deadline is not zero (a renewal period of 10 ms made it so).
      const actions: string[] = [];
      for (let attempt = 0; attempt < 5; attempt++) {
        const decision = await engine.begin({
          method: "POST",
          path: "/orders",
          header: (name) => (name === "idempotency-key" ? [newKey()] : []),
          body: new Uint8Array(0),
        });
        actions.push(decision.action);
        if (decision.action === "execute") await decision.execution.fail();
      }
      expect(actions).toContain("execute");
    } finally {
      await store.close();
    }
  });
});

// The same refusal in this process, where the store is slow itself: the paths below are
// then seen by `npm run mutate`, which cannot look into the gateways' child processes.
describe("a claim a slow store answers after the start deadline", () => {
  /** Past two thirds of LEASE_MS (400 ms), when the lease could lapse before its first renewal. */
  const SLOW_MS = 450;

  it.each(["closed", "open"] as const)(
    "answers 503 without running the handler, and gives the key back (onStoreError: %s)",
    async (onStoreError) => {
      const store = await createStore("memory:");
      const errors: StoreErrorEvent[] = [];
      const server = await guardedServer(slowAt(store, "claim", SLOW_MS), {
        lease: LEASE_MS,
        retryAfter: 3,
        onStoreError,
        hooks: { onStoreError: (event) => void errors.push(event) },
      });
      try {
        const key = newKey();
        const answer = await send(server.url, { headers: { "idempotency-key": key } });
        expect(answer.status).toBe(503);
        expect(answer.json()).toMatchObject(TOO_LATE);
        expect(
          [...answer.headers].filter(
            ([name]) => name !== "date" && name !== "connection" && name !== "keep-alive",
          ),
        ).toEqual([
          ["cache-control", "no-store"],
          ["content-length", String(answer.body.length)],
          ["content-type", "application/problem+json"],
          ["retry-after", "3"],
        ]);
        expect(server.count()).toBe(0);
        expect(errors).toEqual([
          expect.objectContaining({ key, method: "POST", path: "/", operation: "claim", failedOpen: false }),
        ]);
        expect(errors[0]?.error).toBeInstanceOf(StoreUnavailableError);
        expect(String(errors[0]?.error)).toMatch(
          new RegExp(`the claim took \\d+ ms, too late to start within a ${LEASE_MS} ms lease$`),
        );
        // Released at once, not left to lapse: the key is free before the lease would end.
        expect(await store.get({ scope: "anonymous", key })).toBeUndefined();
      } finally {
        await server.close();
        await store.close();
      }
    },
  );

  it("reports a release that fails too, and still answers 503", async () => {
    const store = await createStore("memory:");
    const failure = new Error("the store went away while releasing");
    const errors: StoreErrorEvent[] = [];
    const server = await guardedServer(failing(slowAt(store, "claim", SLOW_MS), "release", failure), {
      lease: LEASE_MS,
      hooks: { onStoreError: (event) => void errors.push(event) },
    });
    try {
      const key = newKey();
      const answer = await send(server.url, { headers: { "idempotency-key": key } });
      expect(answer.json()).toMatchObject(TOO_LATE);
      expect(server.count()).toBe(0);
      expect(errors.map(({ operation, failedOpen }) => [operation, failedOpen])).toEqual([
        ["claim", false],
        ["release", false],
      ]);
      expect(errors[1]).toMatchObject({ key, method: "POST", path: "/", error: failure });
    } finally {
      await server.close();
      await store.close();
    }
  });
});

const redisUrl = serviceUrl("ONCELY_TEST_REDIS_URL", "late claims through the gateway on Redis");
if (redisUrl) {
  describe("a gateway whose claim Redis answers after the lease", () => {
    let upstream: Upstream;
    beforeAll(async () => {
      upstream = await startUpstream();
    });
    afterAll(() => upstream?.close());

    async function gatewayOn(store: string): Promise<GatewayProcess> {
      const args = ["--upstream", upstream.url, "--store", store, "--lease", `${LEASE_MS}ms`];
      const gateway = await startGateway([...args, "--log-level", "warn"]);
      children.push(gateway);
      return gateway;
    }

    it("does not forward once another gateway took the key over: the upstream runs once", async () => {
      const store = `${redisUrl}?prefix=${encodeURIComponent(uniquePrefix())}`;
      const proxy = await proxyTo(redisUrl);
      const late = await gatewayOn(throughProxy(store, proxy));
      const fresh = await gatewayOn(store);
      const key = newKey();
      const before = upstream.count();

      proxy.delayReplies(LATE_MS);
      const claimed = answered(proxy, key);
      const lateReply = send(late.url, { headers: { "idempotency-key": key }, body: "order" });
      // Redis did the late gateway's claim; its lease lapses while the answer travels.
      await claimed;
      await sleep(LAPSED_MS);
      const takeover = await send(fresh.url, { headers: { "idempotency-key": key }, body: "order" });
      proxy.delayReplies(0);
      expect(takeover.status).toBe(201);

      const answer = await lateReply;
      expect(answer.status).toBe(503);
      // Refused as a late claim, not as a store that failed (the proxy stays below its timeout).
      expect(answer.json()).toMatchObject(TOO_LATE);
      expect(answer.headers.get("retry-after")).not.toBeNull();
      expect(upstream.count()).toBe(before + 1);
      // Every retry, through either gateway, replays what the one execution answered.
      for (const gateway of [late, fresh]) {
        const replay = await send(gateway.url, { headers: { "idempotency-key": key }, body: "order" });
        expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
        expect(replay.text).toBe(takeover.text);
      }
      expect(upstream.count()).toBe(before + 1);
    }, 90_000);

    it("gives the key back when nobody took it over, so the retry executes", async () => {
      const store = `${redisUrl}?prefix=${encodeURIComponent(uniquePrefix())}`;
      const proxy = await proxyTo(redisUrl);
      const late = await gatewayOn(throughProxy(store, proxy));
      const key = newKey();
      const before = upstream.count();

      proxy.delayReplies(LATE_MS);
      const answer = send(late.url, { headers: { "idempotency-key": key } });
      await sleep(LATE_MS / 2);
      proxy.delayReplies(0);
      expect((await answer).json()).toMatchObject(TOO_LATE);
      // Released, not left to lapse: the retry right away executes.
      const retry = await send(late.url, { headers: { "idempotency-key": key } });
      expect(retry.status).toBe(201);
      expect(retry.headers.get("x-idempotency-replayed")).toBeNull();
      expect(upstream.count()).toBe(before + 1);
    }, 90_000);
  });

  describe("an event deduper whose claim Redis answers after the lease", () => {
    it("does not run the work once another deduper took the event over: it runs once", async () => {
      const store = `${redisUrl}?prefix=${encodeURIComponent(uniquePrefix())}`;
      const proxy = await proxyTo(redisUrl);
      const [lateStore, freshStore] = [
        await createStore(throughProxy(store, proxy)),
        await createStore(store),
      ];
      try {
        const options = { scope: "late-claims", lease: LEASE_MS };
        const late = createDeduper({ store: lateStore, ...options });
        const fresh = createDeduper({ store: freshStore, ...options });
        let runs = 0;
        const work = () => ++runs;

        proxy.delayReplies(LATE_MS);
        const claimed = answered(proxy, "evt_late");
        const lateRun = late.once("evt_late", work);
        await claimed;
        await sleep(LAPSED_MS);
        expect(await fresh.once("evt_late", work)).toMatchObject({ outcome: "executed", value: 1 });
        proxy.delayReplies(0);
        await expect(lateRun).rejects.toThrow(StoreUnavailableError);
        await expect(lateRun).rejects.toThrow(/too late to start/);
        expect(runs).toBe(1);
        expect(await late.once("evt_late", work)).toMatchObject({ outcome: "duplicate", value: 1 });
        expect(runs).toBe(1);
      } finally {
        await Promise.all([lateStore.close(), freshStore.close()]);
      }
    }, 90_000);
  });
}

const postgresUrl = serviceUrl(
  "ONCELY_TEST_POSTGRES_URL",
  "late claims through the Node adapter on PostgreSQL",
);
if (postgresUrl) {
  describe("an app frozen (SIGSTOP) just as PostgreSQL answers its claim", () => {
    it("does not run its handler after waking up past its lease: the handler runs once", async () => {
      const counter = join(temporaryDirectory(), "executions");
      const proxy = await proxyTo(postgresUrl);
      const app = (url: string) =>
        startChild("test/fixtures/guarded-server.ts", [url, counter, JSON.stringify({ lease: LEASE_MS })]);
      const frozen = await app(throughProxy(postgresUrl, proxy));
      children.push(frozen);
      const other = await app(postgresUrl);
      children.push(other);
      const key = newKey();

      // The claim is done in PostgreSQL; the app stops before it reads the answer. A new
      // key's claim is a read that finds nothing, then the insert that acquires the key:
      // the app stops on the insert's answer, named by its prepared statement.
      const frozenNow = answered(proxy, "oncely_claimFree_", () => frozen.process.kill("SIGSTOP"));
      const frozenReply = send(frozen.url, { headers: { "idempotency-key": key } });
      await frozenNow;
      await sleep(LAPSED_MS);
      const takeover = await send(other.url, { headers: { "idempotency-key": key } });
      expect(takeover.status).toBe(201);
      frozen.process.kill("SIGCONT");

      expect((await frozenReply).json()).toMatchObject(TOO_LATE);
      expect(executions(counter)).toBe(1);
      const replay = await send(frozen.url, { headers: { "idempotency-key": key } });
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      expect(replay.text).toBe(takeover.text);
      expect(executions(counter)).toBe(1);
    }, 90_000);
  });
}
