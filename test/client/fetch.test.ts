import { afterEach, describe, expect, it } from "vitest";
import {
  FetchFailedError,
  idempotentFetch,
  isReplay,
  type RetryEvent,
  responseInfo,
} from "../../src/client/index.js";
import { backoffDelay, parseRetryAfter } from "../../src/client/retry.js";
import { isOncelyError } from "../../src/index.js";
import { listen, type TestServer } from "../helpers/http.js";
import { type Attempt, type Cue, type ScriptedServer, scriptedServer, uploadServer } from "./servers.js";

const servers: TestServer[] = [];
async function serve(cues: readonly Cue[]): Promise<ScriptedServer> {
  const server = await scriptedServer(cues);
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<string> {
  const server = await listen(() => {});
  await server.close();
  return server.url;
}

const fast = { backoff: 20, maxBackoff: 80 };

describe("idempotentFetch retries", () => {
  it("sends the same key on every attempt, through 503, 409 and 429, and returns the final answer", async () => {
    const server = await serve([
      { status: 503 },
      { status: 409 },
      { status: 429 },
      { status: 201, body: "made" },
    ]);
    const response = await idempotentFetch(server.url, { method: "POST", body: "payload" }, fast);
    expect(response.status).toBe(201);
    expect(await response.text()).toBe("made");
    expect(server.attempts).toHaveLength(4);
    const keys = new Set(server.attempts.map((attempt) => attempt.key));
    expect(keys.size).toBe(1);
    expect([...keys][0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(server.attempts.every((attempt) => attempt.body.toString() === "payload")).toBe(true);
    expect(responseInfo(response)).toEqual({ key: server.attempts[0]?.key, attempts: 4, replayed: false });
  });

  it("uses the key given in the options, else the one already in the headers", async () => {
    const server = await serve([{ status: 500 }, { status: 200 }]);
    await idempotentFetch(server.url, { method: "POST" }, { ...fast, key: "order-7" });
    await idempotentFetch(
      server.url,
      { method: "POST", headers: { "Idempotency-Key": "from-header" } },
      fast,
    );
    expect(server.attempts.map((attempt) => attempt.key)).toEqual(["order-7", "order-7", "from-header"]);
  });

  it.each([400, 404, 422])("never retries a %i", async (status) => {
    const server = await serve([{ status }, { status: 200 }]);
    const response = await idempotentFetch(server.url, { method: "POST" }, fast);
    expect(response.status).toBe(status);
    expect(server.attempts).toHaveLength(1);
  });

  it("stops after `attempts` and returns the last retryable answer", async () => {
    const server = await serve([{ status: 503, body: "still down" }]);
    const response = await idempotentFetch(server.url, { method: "POST" }, { ...fast, attempts: 3 });
    expect(response.status).toBe(503);
    expect(await response.text()).toBe("still down");
    expect(server.attempts).toHaveLength(3);
    expect(responseInfo(response)?.attempts).toBe(3);
  });

  it("keeps every backoff within its full-jitter bound", async () => {
    const server = await serve([{ status: 502 }]);
    const events: RetryEvent[] = [];
    await idempotentFetch(
      server.url,
      { method: "POST" },
      { backoff: 40, maxBackoff: 100, attempts: 6, onRetry: (event) => events.push(event) },
    );
    expect(events.map((event) => event.attempt)).toEqual([1, 2, 3, 4, 5]);
    const bounds = [40, 80, 100, 100, 100];
    events.forEach((event, i) => {
      expect(event.status).toBe(502);
      expect(event.delay).toBeGreaterThanOrEqual(0);
      expect(event.delay).toBeLessThanOrEqual(bounds[i] as number);
    });
    // The server saw each attempt no earlier than the wait announced before it.
    for (let i = 1; i < server.attempts.length; i++) {
      const gap = (server.attempts[i] as Attempt).at - (server.attempts[i - 1] as Attempt).at;
      expect(gap).toBeGreaterThanOrEqual((events[i - 1] as RetryEvent).delay - 5);
    }
  });

  it("honours Retry-After in seconds instead of its own backoff", async () => {
    const server = await serve([{ status: 429, headers: { "retry-after": "1" } }, { status: 200 }]);
    const events: RetryEvent[] = [];
    const response = await idempotentFetch(
      server.url,
      { method: "POST" },
      { ...fast, onRetry: (e) => events.push(e) },
    );
    expect(response.status).toBe(200);
    expect(events[0]?.delay).toBe(1000);
    const [first, second] = server.attempts as [Attempt, Attempt];
    expect(second.at - first.at).toBeGreaterThanOrEqual(995);
  });

  it("honours Retry-After as an HTTP-date", async () => {
    const when = new Date(Math.ceil((Date.now() + 2000) / 1000) * 1000);
    const server = await serve([
      { status: 503, headers: { "retry-after": when.toUTCString() } },
      { status: 200 },
    ]);
    const response = await idempotentFetch(server.url, { method: "POST" }, fast);
    expect(response.status).toBe(200);
    expect((server.attempts[1] as Attempt).at).toBeGreaterThanOrEqual(when.getTime() - 5);
  });

  it("does not wait past the time budget: a Retry-After beyond it returns the answer at once", async () => {
    const server = await serve([{ status: 429, headers: { "retry-after": "3600" } }, { status: 200 }]);
    const response = await idempotentFetch(server.url, { method: "POST" }, { ...fast, timeout: 5000 });
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("3600");
    expect(server.attempts).toHaveLength(1);
  });

  it("aborts an attempt that outlives the time budget", async () => {
    const server = await serve([{ status: 200, delay: 10_000 }]);
    const error = await idempotentFetch(server.url, { method: "POST" }, { ...fast, timeout: 300 }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(FetchFailedError);
    expect(isOncelyError(error)).toBe(true);
    expect(error.message).toMatch(/no response within 300 ms/);
  });

  it("retries network errors with the same key and then fails with FetchFailedError", async () => {
    const url = await closedPort();
    const events: RetryEvent[] = [];
    const error = await idempotentFetch(
      url,
      { method: "POST" },
      { ...fast, key: "k-net", attempts: 3, onRetry: (event) => events.push(event) },
    ).catch((e) => e);
    expect(error).toBeInstanceOf(FetchFailedError);
    expect(error).toMatchObject({ code: "ONCELY_FETCH_FAILED", key: "k-net", attempts: 3 });
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(events).toHaveLength(2);
    expect(events.every((event) => event.error !== undefined && event.key === "k-net")).toBe(true);
  });

  it("rejects with the signal's reason when aborted during a wait", async () => {
    const server = await serve([{ status: 503, headers: { "retry-after": "30" } }]);
    const controller = new AbortController();
    const reason = new Error("user gave up");
    const pending = idempotentFetch(server.url, { method: "POST", signal: controller.signal }, fast);
    while (server.attempts.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(server.attempts).toHaveLength(1);
  });

  it("replays a stream body identically on every attempt", async () => {
    const server = await serve([{ status: 503 }, { status: 503 }, { status: 200 }]);
    const chunks = ["one ", "two ", "three"];
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
        controller.close();
      },
    });
    const init = { method: "POST", body, duplex: "half" } as RequestInit;
    expect((await idempotentFetch(server.url, init, fast)).status).toBe(200);
    expect(server.attempts.map((attempt) => attempt.body.toString())).toEqual(Array(3).fill("one two three"));
  });

  it("rejects invalid options before sending anything", async () => {
    const server = await serve([{ status: 200 }]);
    await expect(idempotentFetch(server.url, {}, { attempts: 0 })).rejects.toMatchObject({
      code: "ONCELY_INVALID_OPTION",
    });
    await expect(idempotentFetch(server.url, {}, { backoff: 100, maxBackoff: 10 })).rejects.toThrow(
      /maxBackoff/,
    );
    expect(server.attempts).toHaveLength(0);
  });
});

describe("idempotentFetch against an oncely-guarded server", () => {
  it("tells a replay from a first execution", async () => {
    const server = await uploadServer({ guarded: true });
    servers.push(server);
    const first = await idempotentFetch(server.url, { method: "POST", body: "x" }, { key: "same" });
    const again = await idempotentFetch(server.url, { method: "POST", body: "x" }, { key: "same" });
    expect(isReplay(first)).toBe(false);
    expect(isReplay(again)).toBe(true);
    expect(responseInfo(again)).toEqual({ key: "same", attempts: 1, replayed: true });
    expect(await again.text()).toBe(await first.text());
    expect(server.executions()).toBe(1);
  });
});

describe("retry timing", () => {
  it("draws full jitter below a doubling, capped bound", () => {
    const options = { backoff: 100, maxBackoff: 1000 };
    const highest = () => 0.999_999;
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, options, highest))).toEqual([
      99, 199, 399, 799, 999, 999,
    ]);
    expect(backoffDelay(3, options, () => 0)).toBe(0);
  });

  it("reads Retry-After as seconds or an HTTP-date", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("5", now)).toBe(5000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:03 GMT", now)).toBe(3000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 00:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
