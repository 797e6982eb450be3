// Gateway processes that crash, restart and share one SQLite store, in front of one upstream.
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { newKey, send } from "../helpers/http.js";
import { temporaryDirectory } from "../helpers/stores.js";
import { type GatewayProcess, startGateway, startUpstream, type Upstream } from "./helpers.js";

let upstream: Upstream;
const gateways: GatewayProcess[] = [];

async function gatewayOn(store: string, ...args: string[]): Promise<GatewayProcess> {
  const child = await startGateway([
    "--upstream",
    upstream.url,
    "--store",
    store,
    "--log-level",
    "warn",
    ...args,
  ]);
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

describe("gateway processes on one SQLite store", () => {
  it("after kill -9 mid-request, the lease lapses, the retry executes once, later replays do not", async () => {
    const store = `sqlite:${join(temporaryDirectory(), "crash.db")}`;
    const first = await gatewayOn(store, "--lease", "6s");
    const key = newKey();
    const before = upstream.count();
    const doomed = send(first.url, { headers: { "idempotency-key": key, "x-delay": "1000" } }).catch(
      () => "cut off",
    );
    await sleep(300);
    await first.stop("SIGKILL");
    const killedAt = Date.now();
    expect(await doomed).toBe("cut off");

    const second = await gatewayOn(store, "--lease", "6s");
    // The dead gateway's lease is still live for a while: the retry is told to come back later.
    // (A lease of 6 s leaves a gateway slow to start on a loaded machine time to ask.)
    expect(Date.now() - killedAt).toBeLessThan(5000);
    expect((await send(second.url, { headers: { "idempotency-key": key } })).status).toBe(409);
    await sleep(killedAt + 6300 - Date.now());
    const retry = await send(second.url, { headers: { "idempotency-key": key } });
    expect(retry.status).toBe(201);
    expect(retry.headers.get("x-idempotency-replayed")).toBeNull();
    // The upstream ran the doomed request (nobody told it the gateway died) and the retry, nothing more.
    expect(upstream.count()).toBe(before + 2);

    await second.stop("SIGKILL");
    const third = await gatewayOn(store);
    for (let i = 0; i < 3; i++) {
      const replay = await send(third.url, { headers: { "idempotency-key": key } });
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      expect(replay.text).toBe(retry.text);
    }
    expect(upstream.count()).toBe(before + 2);
  }, 30_000);

  it("fences a frozen gateway whose lease lapsed: it cannot overwrite the record of the one that took over", async () => {
    const store = `sqlite:${join(temporaryDirectory(), "fence.db")}`;
    // One after the other: two processes creating the same SQLite file at once can meet a lock (reported).
    const stale = await gatewayOn(store, "--lease", "1s");
    const fresh = await gatewayOn(store, "--lease", "1s");
    const key = newKey();
    const staleReply = send(stale.url, { headers: { "idempotency-key": key, "x-delay": "1500" } });
    await sleep(200);
    stale.process.kill("SIGSTOP");
    await sleep(1300); // the frozen gateway cannot renew: its lease lapses
    const takeover = await send(fresh.url, { headers: { "idempotency-key": key, "x-delay": "200" } });
    expect(takeover.status).toBe(201);
    stale.process.kill("SIGCONT");
    // The stale gateway's own client still gets the answer its execution produced …
    const staleBody = (await staleReply).text;
    expect(staleBody).not.toBe(takeover.text);
    await sleep(200);
    // … but the record is the takeover's, whichever gateway replays it.
    for (const gateway of [stale, fresh]) {
      const replay = await send(gateway.url, { headers: { "idempotency-key": key } });
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      expect(replay.text).toBe(takeover.text);
    }
  }, 30_000);

  it("still replays completed keys after a restart", async () => {
    const store = `sqlite:${join(temporaryDirectory(), "restart.db")}`;
    const first = await gatewayOn(store);
    const key = newKey();
    const original = await send(first.url, { headers: { "idempotency-key": key }, body: "order" });
    await first.stop("SIGTERM");
    expect(await first.exited).toBe(0);
    const second = await gatewayOn(store);
    const before = upstream.count();
    const replay = await send(second.url, { headers: { "idempotency-key": key }, body: "order" });
    expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
    expect(replay.body.equals(original.body)).toBe(true);
    expect(upstream.count()).toBe(before);
  }, 30_000);

  it("executes once for 100 concurrent duplicates spread over two gateway processes", async () => {
    const store = `sqlite:${join(temporaryDirectory(), "shared.db")}`;
    const pair = [await gatewayOn(store, "--wait", "20s"), await gatewayOn(store, "--wait", "20s")];
    const key = newKey();
    const before = upstream.count();
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        send((pair[i % 2] as GatewayProcess).url, {
          headers: { "idempotency-key": key, "x-delay": "200" },
          body: "once",
        }),
      ),
    );
    expect(upstream.count()).toBe(before + 1);
    expect(replies.every((reply) => reply.status === 201)).toBe(true);
    expect(new Set(replies.map((reply) => reply.text)).size).toBe(1);
    expect(replies.filter((reply) => reply.headers.get("x-idempotency-replayed") === null)).toHaveLength(1);
  }, 60_000);
});
