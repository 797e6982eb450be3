import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStore } from "../../src/index.js";
import type { IdempotencyStore } from "../../src/store.js";
import { guardedServer } from "../helpers/guarded.js";
import { newKey, send } from "../helpers/http.js";
import { storeCases, temporaryDirectory } from "../helpers/stores.js";

describe.each(storeCases())("scopes and fingerprints ($name store)", ({ create }) => {
  let store: IdempotencyStore;
  beforeAll(async () => {
    store = await create();
  });
  afterAll(() => store.close());

  it("keeps the records of two credentials apart, and shares one anonymous scope", async () => {
    const server = await guardedServer(store);
    try {
      const key = newKey();
      const alice = await send(server.url, {
        headers: { "idempotency-key": key, authorization: "Bearer alice" },
      });
      const bob = await send(server.url, {
        headers: { "idempotency-key": key, authorization: "Bearer bob" },
      });
      expect(alice.json()).toMatchObject({ count: 1 });
      expect(bob.json()).toMatchObject({ count: 2 });
      const aliceAgain = await send(server.url, {
        headers: { "idempotency-key": key, authorization: "Bearer alice" },
      });
      expect(aliceAgain.body.equals(alice.body)).toBe(true);
      const anonymous = newKey();
      const first = await send(server.url, { headers: { "idempotency-key": anonymous } });
      const second = await send(server.url, { headers: { "idempotency-key": anonymous } });
      expect(second.headers.get("x-idempotency-replayed")).toBe("true");
      expect(second.body.equals(first.body)).toBe(true);
      expect(server.count()).toBe(3);
    } finally {
      await server.close();
    }
  });

  it("uses a scope function instead of the credential when given one", async () => {
    const server = await guardedServer(store, {
      scope: (request) => request.header("x-tenant")[0] ?? "none",
    });
    try {
      const key = newKey();
      await send(server.url, { headers: { "idempotency-key": key, "x-tenant": "t1", authorization: "a" } });
      const sameTenant = await send(server.url, {
        headers: { "idempotency-key": key, "x-tenant": "t1", authorization: "b" },
      });
      const otherTenant = await send(server.url, { headers: { "idempotency-key": key, "x-tenant": "t2" } });
      expect(sameTenant.headers.get("x-idempotency-replayed")).toBe("true");
      expect(otherTenant.headers.get("x-idempotency-replayed")).toBeNull();
      expect(server.count()).toBe(2);
    } finally {
      await server.close();
    }
  });

  it("hashes another header into the scope when scopeHeader is set", async () => {
    const server = await guardedServer(store, { scopeHeader: "X-Api-Key" });
    try {
      const key = newKey();
      await send(server.url, { headers: { "idempotency-key": key, "x-api-key": "one" } });
      await send(server.url, { headers: { "idempotency-key": key, "x-api-key": "two" } });
      const replay = await send(server.url, { headers: { "idempotency-key": key, "x-api-key": "one" } });
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      expect(server.count()).toBe(2);
    } finally {
      await server.close();
    }
  });

  it("answers 422 problem+json when a key is reused with another body, method or path", async () => {
    const server = await guardedServer(store);
    try {
      const key = newKey();
      await send(server.url, { headers: { "idempotency-key": key }, body: '{"amount":1}' });
      const variants = [
        { body: '{"amount":2}' },
        { method: "PATCH", body: '{"amount":1}' },
        { path: "/other", body: '{"amount":1}' },
        { path: "/?q=1", body: '{"amount":1}' },
      ];
      for (const variant of variants) {
        const reply = await send(server.url + (variant.path ?? "/"), {
          method: variant.method ?? "POST",
          headers: { "idempotency-key": key },
          body: variant.body,
        });
        expect(reply.status, JSON.stringify(variant)).toBe(422);
        expect(reply.headers.get("content-type")).toBe("application/problem+json");
        expect(reply.json()).toMatchObject({ type: "https://oncely.dev/problems/key-reused", status: 422 });
      }
      expect(server.count()).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('replays the original response on a mismatch with mismatch: "ignore"', async () => {
    const server = await guardedServer(store, { mismatch: "ignore" });
    try {
      const key = newKey();
      const first = await send(server.url, { headers: { "idempotency-key": key }, body: "one" });
      const other = await send(server.url, { headers: { "idempotency-key": key }, body: "two" });
      expect(other.status).toBe(201);
      expect(other.body.equals(first.body)).toBe(true);
      expect(other.headers.get("x-idempotency-replayed")).toBe("true");
      expect(server.count()).toBe(1);
    } finally {
      await server.close();
    }
  });

  it("leaves out of the fingerprint what the options exclude", async () => {
    const server = await guardedServer(store, { fingerprint: { body: false } });
    const custom = await guardedServer(store, {
      fingerprint: (request) => request.header("x-version")[0] ?? "none",
    });
    try {
      const key = newKey();
      await send(server.url, { headers: { "idempotency-key": key }, body: "one" });
      const replay = await send(server.url, { headers: { "idempotency-key": key }, body: "two" });
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      expect((await send(`${server.url}/elsewhere`, { headers: { "idempotency-key": key } })).status).toBe(
        422,
      );
      const other = newKey();
      await send(custom.url, { headers: { "idempotency-key": other, "x-version": "1" }, body: "a" });
      expect(
        (await send(custom.url, { headers: { "idempotency-key": other, "x-version": "1" }, body: "b" }))
          .status,
      ).toBe(201);
      expect(
        (await send(custom.url, { headers: { "idempotency-key": other, "x-version": "2" } })).status,
      ).toBe(422);
      expect(server.count() + custom.count()).toBe(2);
    } finally {
      await server.close();
      await custom.close();
    }
  });

  it("refuses an empty fingerprint from a callback: it would read as a body still arriving", async () => {
    const server = await guardedServer(store, { fingerprint: () => "" });
    try {
      const key = newKey();
      const reply = await send(server.url, { headers: { "idempotency-key": key }, body: "a" });
      // withIdempotency answers a failing callback with a bare 500, and the handler never runs.
      expect(reply.status).toBe(500);
      expect(server.count()).toBe(0);
    } finally {
      await server.close();
    }
  });

  it("hands a request without a key on with its body unread, whatever its size", async () => {
    const server = await guardedServer(store, { maxRequestBodyBytes: 1000 });
    try {
      const body = "x".repeat(5000);
      const reply = await send(server.url, { body });
      expect(reply.status).toBe(201);
      expect(reply.json()).toMatchObject({ body });
      expect(server.count()).toBe(1);
    } finally {
      await server.close();
    }
  });

  it("answers 413 problem+json when the body is larger than maxUploadBytes, and streams one between the caps", async () => {
    const server = await guardedServer(store, { maxRequestBodyBytes: 500, maxUploadBytes: 1000 });
    try {
      const reply = await send(server.url, {
        headers: { "idempotency-key": newKey() },
        body: "x".repeat(1001),
      });
      expect(reply.status).toBe(413);
      expect(reply.json()).toMatchObject({ type: "https://oncely.dev/problems/request-too-large" });
      expect(
        (await send(server.url, { headers: { "idempotency-key": newKey() }, body: "x".repeat(1000) })).status,
      ).toBe(201);
      expect(server.count()).toBe(1);
    } finally {
      await server.close();
    }
  });
});

describe("credentials", () => {
  it("never stores a raw credential", async () => {
    const dir = temporaryDirectory();
    const store = await createStore(`sqlite:${join(dir, "scope.db")}`);
    const server = await guardedServer(store);
    const secret = "sk_live_5ecret_never_on_disk";
    try {
      await send(server.url, { headers: { "idempotency-key": newKey(), authorization: `Bearer ${secret}` } });
    } finally {
      await server.close();
      await store.close();
    }
    const files = readdirSync(dir).map((name) => readFileSync(join(dir, name)));
    expect(files.length).toBeGreaterThan(0);
    for (const bytes of files) expect(bytes.includes(secret)).toBe(false);
  });
});
