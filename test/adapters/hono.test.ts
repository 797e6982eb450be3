import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { idempotency } from "../../src/adapters/hono/index.js";
import { createStore } from "../../src/index.js";
import { describeAdapter } from "../conformance/adapter-behaviour.js";
import { serveFetch, toResponse } from "../conformance/translate.js";
import { newKey, send } from "../helpers/http.js";

describeAdapter("Hono", (options, app) => {
  const hono = new Hono();
  hono.use(idempotency(options));
  hono.all("*", async (c) => {
    const path = new URL(c.req.url).pathname;
    const body = new Uint8Array(await c.req.arrayBuffer());
    return toResponse(await app.handle({ method: c.req.method, path, body }));
  });
  hono.onError((_error, c) => c.text("failed", 500));
  return serveFetch(hono.fetch);
});

describe("Hono adapter extras", () => {
  it("guards one route, lets its handler parse the body, and releases the key of a handler that throws", async () => {
    const store = await createStore("memory:");
    const hono = new Hono();
    let executions = 0;
    hono.post("/orders", idempotency({ store }), async (c) => {
      executions++;
      const item = await c.req.json<{ sku: string }>();
      if (item.sku === "broken") throw new Error("no such sku");
      c.header("x-order", String(executions));
      return c.json({ id: executions, sku: item.sku }, 201);
    });
    hono.post("/open", async (c) => {
      executions++;
      return c.text("unguarded", 201);
    });
    // A thrown error releases the key even when onError answers with a status that is stored.
    hono.onError((error, c) => c.json({ error: error.message }, 400));
    const server = await serveFetch(hono.fetch);
    try {
      const key = newKey();
      const init = { headers: { "idempotency-key": key }, body: '{"sku":"A1"}' };
      const first = await send(`${server.url}/orders`, init);
      const replay = await send(`${server.url}/orders`, init);
      expect(first.json()).toEqual({ id: 1, sku: "A1" });
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      expect(replay.headers.get("x-order")).toBe("1");
      expect(replay.body.equals(first.body)).toBe(true);

      const broken = { headers: { "idempotency-key": newKey() }, body: '{"sku":"broken"}' };
      expect((await send(`${server.url}/orders`, broken)).json()).toEqual({ error: "no such sku" });
      const retried = await send(`${server.url}/orders`, broken);
      expect([retried.status, retried.headers.get("x-idempotency-replayed")]).toEqual([400, null]);
      expect(executions).toBe(3);

      await send(`${server.url}/open`, init);
      expect((await send(`${server.url}/open`, init)).headers.get("x-idempotency-replayed")).toBeNull();
      expect(executions).toBe(5);
    } finally {
      await server.close();
      await store.close();
    }
  });
});
