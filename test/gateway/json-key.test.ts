// Keys carried in JSON bodies (RPC-style APIs): `oncely serve --key-json`, scoped by a header
// or required, and the library's `keyJson` option through the Node adapter.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withIdempotency as withFetchIdempotency } from "../../src/adapters/fetch/index.js";
import { createStore } from "../../src/index.js";
import { guardedServer } from "../helpers/guarded.js";
import { newKey, type Reply, send } from "../helpers/http.js";
import { type GatewayProcess, startGateway, startUpstream, type Upstream } from "./helpers.js";

const json = (value: unknown) => JSON.stringify(value);

/** `oncely serve --key-json /meta/idempotency_key` in front of `upstream`, with `extra` arguments. */
const jsonKeyGateway = (upstream: Upstream, ...extra: string[]): Promise<GatewayProcess> =>
  startGateway([
    ...["--upstream", upstream.url, "--store", "memory:", "--log-level", "warn"],
    ...["--key-json", "/meta/idempotency_key", ...extra],
  ]);

describe("oncely serve --key-json /meta/idempotency_key --scope-header x-app-id", () => {
  let upstream: Upstream;
  let gateway: GatewayProcess;
  const call = (body: string, app = "app-1", headers: Record<string, string> = {}): Promise<Reply> =>
    send(`${gateway.url}/v1/charges.create`, {
      headers: { "content-type": "application/json", "x-app-id": app, ...headers },
      body,
    });

  beforeAll(async () => {
    upstream = await startUpstream();
    gateway = await jsonKeyGateway(upstream, "--scope-header", "x-app-id");
  }, 30_000);
  afterAll(async () => {
    await gateway?.stop("SIGKILL");
    await upstream?.close();
  });

  it("replays a second call with the same key in the body, per calling application", async () => {
    const body = json({ amount: 100, meta: { idempotency_key: newKey() } });
    const before = upstream.count();
    const first = await call(body);
    const second = await call(body);
    expect(first.status).toBe(201);
    expect(second.headers.get("x-idempotency-replayed")).toBe("true");
    expect(second.text).toBe(first.text);
    // Another application with the same key is another record.
    const other = await call(body, "app-2");
    expect(other.headers.get("x-idempotency-replayed")).toBeNull();
    expect(upstream.count()).toBe(before + 2);
    // Same key, another body: the usual 422.
    const reused = await call(json({ amount: 999, meta: JSON.parse(body).meta }));
    expect(reused.status).toBe(422);
  });

  it("treats a body that is not JSON, or lacks the field, as a request without a key (the header is not read)", async () => {
    const key = newKey();
    for (const body of ["not json {", json({ amount: 1 }), json({ meta: { idempotency_key: null } }), ""]) {
      const before = upstream.count();
      const first = await call(body, "app-1", { "idempotency-key": key });
      const second = await call(body, "app-1", { "idempotency-key": key });
      expect([first.status, second.status]).toEqual([201, 201]);
      expect(second.headers.get("x-idempotency-replayed")).toBeNull();
      expect(upstream.count()).toBe(before + 2);
    }
  });

  it("answers a field that is not a valid key with the same 400 as a bad header", async () => {
    const before = upstream.count();
    for (const value of [42, "", "x".repeat(129), "é", { nested: true }]) {
      const reply = await call(json({ meta: { idempotency_key: value } }));
      expect(reply.status).toBe(400);
      expect(reply.headers.get("content-type")).toContain("application/problem+json");
      expect((reply.json() as { type: string }).type).toMatch(/invalid-key$/);
    }
    expect(upstream.count()).toBe(before);
  });
});

describe("oncely serve --key-json /meta/idempotency_key --required", () => {
  let upstream: Upstream;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    upstream = await startUpstream();
    gateway = await jsonKeyGateway(upstream, "--required");
  }, 30_000);
  afterAll(async () => {
    await gateway?.stop("SIGKILL");
    await upstream?.close();
  });

  it("answers 400 key-required to a JSON body without the field, and executes one that carries it", async () => {
    const before = upstream.count();
    const call = (body: string) =>
      send(`${gateway.url}/v1/charges.create`, { headers: { "content-type": "application/json" }, body });
    for (const body of ["not json {", json({ amount: 1 }), json({ meta: { idempotency_key: null } })]) {
      const reply = await call(body);
      expect(reply.status).toBe(400);
      expect(reply.headers.get("content-type")).toBe("application/problem+json");
      expect(reply.json()).toMatchObject({
        type: "https://oncely.dev/problems/key-required",
        status: 400,
        detail: "send an idempotency key in the JSON body field /meta/idempotency_key with this request",
      });
    }
    expect(upstream.count()).toBe(before);
    const keyed = json({ amount: 1, meta: { idempotency_key: newKey() } });
    expect((await call(keyed)).status).toBe(201);
    expect((await call(keyed)).headers.get("x-idempotency-replayed")).toBe("true");
    expect(upstream.count()).toBe(before + 1);
  });
});

describe("the library's keyJson option", () => {
  it("takes the key from a top-level member, and excludes `key`", async () => {
    const store = await createStore("memory:");
    const server = await guardedServer(store, { keyJson: "idempotency_key" });
    try {
      const body = json({ idempotency_key: newKey(), amount: 5 });
      await send(server.url, { headers: { "content-type": "application/json" }, body });
      const replay = await send(server.url, { headers: { "content-type": "application/json" }, body });
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      expect(server.count()).toBe(1);
      const bad = await send(server.url, { body: json({ idempotency_key: 7 }) });
      expect(bad.status).toBe(400);
      expect(server.count()).toBe(1);
    } finally {
      await server.close();
      await store.close();
    }
    await expect(
      guardedServer(await createStore("memory:"), { keyJson: "k", key: () => "x" }),
    ).rejects.toThrow(/exclude each other/);
    await expect(guardedServer(await createStore("memory:"), { keyJson: "/a/~2" })).rejects.toThrow(
      /JSON pointer/,
    );
  });
});

describe("keyJson and errorFormat in the fetch layer", () => {
  it("keys a fetch handler from a JSON body field, and shapes its 413 and 400 as Stripe errors", async () => {
    const store = await createStore("memory:");
    let runs = 0;
    const handler = withFetchIdempotency(
      async () => {
        runs++;
        return Response.json({ run: runs }, { status: 201 });
      },
      { store, keyJson: "/meta/idempotency_key", errorFormat: "stripe", maxRequestBodyBytes: 128 },
    );
    const post = (body: string) =>
      handler(
        new Request("http://127.0.0.1/rpc", {
          method: "POST",
          body,
          headers: { "content-type": "application/json" },
        }),
      );
    try {
      const body = json({ meta: { idempotency_key: newKey() } });
      expect(await (await post(body)).json()).toEqual({ run: 1 });
      const replay = await post(body);
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      expect(await replay.json()).toEqual({ run: 1 });
      const invalid = await post(json({ meta: { idempotency_key: 3 } }));
      expect(invalid.status).toBe(400);
      expect(await invalid.json()).toMatchObject({
        error: { type: "invalid_request_error", code: "invalid_key" },
      });
      const large = await post(json({ meta: { idempotency_key: newKey() }, pad: "x".repeat(200) }));
      expect(large.status).toBe(413);
      expect(await large.json()).toMatchObject({ error: { code: "request_too_large" } });
      expect(runs).toBe(1);
    } finally {
      await store.close();
    }
  });
});
