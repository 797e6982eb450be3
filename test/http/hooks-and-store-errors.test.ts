import { describe, expect, it } from "vitest";
import type {
  ExecutedEvent,
  KeyEvent,
  ReleasedEvent,
  ReplayedEvent,
  StoreErrorEvent,
} from "../../src/index.js";
import { guardedServer } from "../helpers/guarded.js";
import { newKey, send } from "../helpers/http.js";
import { claimed, failing, storeCases } from "../helpers/stores.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(storeCases())("hooks and store failures ($name store)", ({ create }) => {
  it("reports executed, replayed, conflict, mismatch and released, so quota is metered on executions only", async () => {
    const store = await create();
    const events: Record<string, Array<KeyEvent | ExecutedEvent | ReplayedEvent | ReleasedEvent>> = {
      executed: [],
      replayed: [],
      conflict: [],
      mismatch: [],
      released: [],
    };
    let quotaUsed = 0;
    const server = await guardedServer(
      store,
      {
        hooks: {
          onExecuted: (event) => {
            events.executed?.push(event);
            quotaUsed++;
          },
          onReplayed: (event) => void events.replayed?.push(event),
          onConflict: (event) => void events.conflict?.push(event),
          onMismatch: (event) => void events.mismatch?.push(event),
          onReleased: (event) => {
            events.released?.push(event);
            throw new Error("a broken hook must not break the request");
          },
        },
      },
      async (req, res) => {
        await sleep(Number(req.headers["x-delay"] ?? 0));
        res.statusCode = Number(req.headers["x-status"] ?? 201);
        res.end("body");
      },
    );
    try {
      const key = newKey();
      const original = send(server.url, { headers: { "idempotency-key": key, "x-delay": "200" } });
      await claimed(store, key);
      expect((await send(server.url, { headers: { "idempotency-key": key } })).status).toBe(409);
      await original;
      await sleep(20);
      for (let i = 0; i < 3; i++) await send(server.url, { headers: { "idempotency-key": key } });
      expect((await send(server.url, { headers: { "idempotency-key": key }, body: "other" })).status).toBe(
        422,
      );
      const failing = newKey();
      expect(
        (await send(server.url, { headers: { "idempotency-key": failing, "x-status": "503" } })).status,
      ).toBe(503);
      await sleep(20);

      expect(quotaUsed).toBe(2);
      expect(events.executed?.[0]).toMatchObject({
        key,
        scope: "anonymous",
        method: "POST",
        path: "/",
        status: 201,
        stored: true,
      });
      expect(events.executed?.[1]).toMatchObject({ key: failing, status: 503, stored: false });
      expect(events.replayed).toHaveLength(3);
      expect(events.replayed?.[0]).toMatchObject({ key, status: 201 });
      expect(events.conflict).toEqual([{ key, scope: "anonymous", method: "POST", path: "/" }]);
      expect(events.mismatch).toHaveLength(1);
      expect(events.released).toEqual([
        { key: failing, scope: "anonymous", method: "POST", path: "/", reason: "status", status: 503 },
      ]);
    } finally {
      await server.close();
      await store.close();
    }
  });

  it("fails closed with 503 problem+json and Retry-After when the store fails", async () => {
    const store = await create();
    const errors: StoreErrorEvent[] = [];
    const server = await guardedServer(store, {
      hooks: { onStoreError: (event) => void errors.push(event) },
    });
    try {
      await store.close();
      const reply = await send(server.url, { headers: { "idempotency-key": newKey() } });
      expect(reply.status).toBe(503);
      expect(reply.headers.get("retry-after")).toBe("1");
      expect(reply.json()).toMatchObject({
        type: "https://oncely.dev/problems/store-unavailable",
        status: 503,
      });
      expect(server.count()).toBe(0);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ operation: "claim", failedOpen: false });
    } finally {
      await server.close();
    }
  });

  it("delivers the response, reports the failure and keeps the key in flight when storing it fails", async () => {
    const store = await create();
    const failure = new Error("the store went away while completing");
    const errors: StoreErrorEvent[] = [];
    const released: ReleasedEvent[] = [];
    const server = await guardedServer(failing(store, "complete", failure), {
      hooks: {
        onStoreError: (event) => void errors.push(event),
        onReleased: (event) => void released.push(event),
      },
    });
    try {
      const key = newKey();
      const reply = await send(server.url, { headers: { "idempotency-key": key } });
      expect([reply.status, reply.json()]).toEqual([201, expect.objectContaining({ count: 1 })]);
      expect(errors).toEqual([expect.objectContaining({ key, operation: "complete", error: failure })]);
      // Not released: the handler ran, so the retry gets 409 instead of running it again.
      expect(released).toEqual([]);
      expect((await send(server.url, { headers: { "idempotency-key": key } })).status).toBe(409);
      expect(server.count()).toBe(1);
    } finally {
      await server.close();
      await store.close();
    }
  });

  it('executes without deduplication and reports it with onStoreError: "open"', async () => {
    const store = await create();
    const errors: StoreErrorEvent[] = [];
    const server = await guardedServer(store, {
      onStoreError: "open",
      hooks: { onStoreError: (event) => void errors.push(event) },
    });
    try {
      await store.close();
      const key = newKey();
      expect((await send(server.url, { headers: { "idempotency-key": key } })).status).toBe(201);
      expect((await send(server.url, { headers: { "idempotency-key": key } })).status).toBe(201);
      expect(server.count()).toBe(2);
      expect(errors.map((event) => event.failedOpen)).toEqual([true, true]);
    } finally {
      await server.close();
    }
  });
});
