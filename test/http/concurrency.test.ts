import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IdempotencyStore } from "../../src/store.js";
import { guardedServer } from "../helpers/guarded.js";
import { newKey, send } from "../helpers/http.js";
import { claimed, storeCases } from "../helpers/stores.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(storeCases())("concurrent duplicates and leases ($name store)", ({ create }) => {
  let store: IdempotencyStore;
  beforeAll(async () => {
    store = await create();
  });
  afterAll(() => store.close());

  it("runs the handler once for 100 concurrent requests with one key", async () => {
    const server = await guardedServer(store, { wait: 10_000 }, async (_req, res, _body, count) => {
      await sleep(50);
      res.statusCode = 201;
      res.end(`execution ${count}`);
    });
    try {
      const key = newKey();
      const replies = await Promise.all(
        Array.from({ length: 100 }, () => send(server.url, { headers: { "idempotency-key": key } })),
      );
      expect(server.count()).toBe(1);
      expect(replies.map((reply) => reply.text)).toEqual(Array(100).fill("execution 1"));
      expect(replies.filter((reply) => reply.headers.get("x-idempotency-replayed") === "true")).toHaveLength(
        99,
      );
    } finally {
      await server.close();
    }
  });

  it("answers 409 problem+json with Retry-After to a duplicate of an in-flight request", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const server = await guardedServer(store, { retryAfter: 2 }, async (_req, res) => {
      await gate;
      res.end("done");
    });
    try {
      const key = newKey();
      const original = send(server.url, { headers: { "idempotency-key": key } });
      await claimed(store, key);
      const duplicate = await send(server.url, { headers: { "idempotency-key": key } });
      expect(duplicate.status).toBe(409);
      expect(duplicate.headers.get("retry-after")).toBe("2");
      expect(duplicate.headers.get("content-type")).toBe("application/problem+json");
      expect(duplicate.json()).toMatchObject({
        type: "https://oncely.dev/problems/request-in-progress",
        status: 409,
      });
      release();
      expect((await original).text).toBe("done");
      expect(server.count()).toBe(1);
    } finally {
      await server.close();
    }
  });

  it("lets a duplicate wait for the original and receive its replay, up to `wait` ms", async () => {
    const server = await guardedServer(store, { wait: 2000 }, async (req, res) => {
      await sleep(Number(req.headers["x-delay"]));
      res.end("original");
    });
    try {
      const key = newKey();
      const original = send(server.url, { headers: { "idempotency-key": key, "x-delay": "300" } });
      await claimed(store, key);
      const waited = await send(server.url, { headers: { "idempotency-key": key, "x-delay": "300" } });
      expect(waited.status).toBe(200);
      expect(waited.text).toBe("original");
      expect(waited.headers.get("x-idempotency-replayed")).toBe("true");
      await original;

      const slow = newKey();
      const slowOriginal = send(server.url, { headers: { "idempotency-key": slow, "x-delay": "3500" } });
      await claimed(store, slow);
      const gaveUp = await send(server.url, { headers: { "idempotency-key": slow, "x-delay": "3500" } });
      expect(gaveUp.status).toBe(409);
      await slowOriginal;
      expect(server.count()).toBe(2);
    } finally {
      await server.close();
    }
  });

  it("renews the lease of a live handler that runs longer than the lease", async () => {
    let finish: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      finish = resolve;
    });
    // Long enough that a claim slowed by a loaded machine still starts (under two thirds of it).
    const lease = 600;
    const server = await guardedServer(store, { lease }, async (_req, res) => {
      await gate;
      res.end("slow but single");
    });
    try {
      const key = newKey();
      const original = send(server.url, { headers: { "idempotency-key": key } });
      await claimed(store, key);
      // Four lease periods pass while the handler runs; without renewal a duplicate would take over.
      for (let i = 0; i < 4; i++) {
        await sleep(lease);
        expect((await send(server.url, { headers: { "idempotency-key": key } })).status).toBe(409);
      }
      finish();
      expect((await original).text).toBe("slow but single");
      expect(server.count()).toBe(1);
    } finally {
      finish();
      await server.close();
    }
  });
});
