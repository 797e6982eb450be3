import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IdempotencyStore } from "../../src/store.js";
import { guardedServer } from "../helpers/guarded.js";
import { newKey, send } from "../helpers/http.js";
import { storeCases } from "../helpers/stores.js";

/** Sends raw bytes (for header shapes fetch cannot produce) and returns the status code. */
async function rawStatus(port: number, head: string): Promise<number> {
  const socket = connect(port, "127.0.0.1");
  socket.end(`${head}\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  let data = "";
  for await (const chunk of socket) data += chunk.toString();
  return Number(data.split(" ")[1]);
}

describe.each(storeCases())("keys and methods ($name store)", ({ create }) => {
  let store: IdempotencyStore;
  beforeAll(async () => {
    store = await create();
  });
  afterAll(() => store.close());

  it("guards POST and PATCH, and passes every other method through untouched", async () => {
    const server = await guardedServer(store);
    try {
      for (const method of ["POST", "PATCH"]) {
        const key = newKey();
        await send(server.url, { method, headers: { "idempotency-key": key } });
        const replay = await send(server.url, { method, headers: { "idempotency-key": key } });
        expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      }
      expect(server.count()).toBe(2);
      for (const method of ["GET", "PUT", "DELETE"]) {
        const key = newKey();
        const first = await send(server.url, { method, headers: { "idempotency-key": key } });
        const second = await send(server.url, { method, headers: { "idempotency-key": key } });
        expect(first.headers.get("x-idempotency-replayed")).toBeNull();
        expect(second.headers.get("x-idempotency-replayed")).toBeNull();
      }
      expect(server.count()).toBe(8);
    } finally {
      await server.close();
    }
  });

  it("guards the configured methods only", async () => {
    const server = await guardedServer(store, { methods: ["PUT"] });
    try {
      const key = newKey();
      await send(server.url, { method: "PUT", headers: { "idempotency-key": key } });
      await send(server.url, { method: "PUT", headers: { "idempotency-key": key } });
      await send(server.url, { method: "POST", headers: { "idempotency-key": key } });
      expect(server.count()).toBe(2);
    } finally {
      await server.close();
    }
  });

  it('treats the bare value and the sf-string form ("abc" and abc) as the same key', async () => {
    const server = await guardedServer(store);
    try {
      const key = newKey();
      await send(server.url, { headers: { "idempotency-key": `"${key}"` } });
      const replay = await send(server.url, { headers: { "idempotency-key": key } });
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      const quoted = newKey();
      const escaped = await send(server.url, { headers: { "idempotency-key": `"${quoted}\\"b"` } });
      const bare = await send(server.url, { headers: { "idempotency-key": `${quoted}"b` } });
      expect(escaped.status).toBe(201);
      expect(bare.status).toBe(400);
      expect(server.count()).toBe(2);
    } finally {
      await server.close();
    }
  });

  it("accepts keys of 1 to 128 printable ASCII characters, and the limit is configurable", async () => {
    const server = await guardedServer(store);
    const short = await guardedServer(store, { maxKeyLength: 8 });
    // These keys are fixed: a scope of its own keeps records of earlier runs on a shared store apart.
    const scope = { authorization: `Bearer ${newKey()}` };
    try {
      expect(
        (await send(server.url, { headers: { ...scope, "idempotency-key": "x".repeat(128) } })).status,
      ).toBe(201);
      expect((await send(server.url, { headers: { ...scope, "idempotency-key": "~" } })).status).toBe(201);
      const long = await send(server.url, { headers: { ...scope, "idempotency-key": "x".repeat(129) } });
      expect(long.status).toBe(400);
      expect(long.headers.get("content-type")).toBe("application/problem+json");
      expect(long.json()).toMatchObject({
        type: "https://oncely.dev/problems/invalid-key",
        status: 400,
        detail: "the key is longer than 128 characters",
      });
      expect((await send(short.url, { headers: { ...scope, "idempotency-key": "123456789" } })).status).toBe(
        400,
      );
      expect((await send(short.url, { headers: { ...scope, "idempotency-key": "12345678" } })).status).toBe(
        201,
      );
    } finally {
      await server.close();
      await short.close();
    }
  });

  it("rejects empty, non-ASCII, repeated and list-valued keys with 400 problem+json", async () => {
    const server = await guardedServer(store);
    try {
      const cases: Array<[string, string]> = [
        ["Idempotency-Key: ", "the key is empty"],
        ['Idempotency-Key: ""', "the key is empty"],
        ["Idempotency-Key: caf\u00e9", "the key must be printable ASCII"],
        ["Idempotency-Key: a, b", "the key header holds a list; send exactly one key"],
        ['Idempotency-Key: "a", "b"', "the key header holds a list; send exactly one key"],
        ['Idempotency-Key: "abc', "the quoted key is not terminated"],
      ];
      for (const [line, detail] of cases) {
        const reply = await send(server.url, { headers: { "idempotency-key": line.slice(17) } }).catch(
          () => undefined,
        );
        if (reply) {
          expect(reply.status, line).toBe(400);
          expect(reply.json(), line).toMatchObject({
            type: "https://oncely.dev/problems/invalid-key",
            detail,
          });
        } else {
          // fetch refuses to send some of these itself; send them raw.
          expect(await rawStatus(server.port, `POST / HTTP/1.1\r\n${line}`), line).toBe(400);
        }
      }
      const twice = await rawStatus(
        server.port,
        "POST / HTTP/1.1\r\nIdempotency-Key: a\r\nIdempotency-Key: a",
      );
      expect(twice).toBe(400);
      expect(server.count()).toBe(0);
    } finally {
      await server.close();
    }
  });

  it("passes requests without a key through by default, and rejects them with required: true", async () => {
    const optional = await guardedServer(store);
    const required = await guardedServer(store, { required: true });
    try {
      await send(optional.url);
      await send(optional.url);
      expect(optional.count()).toBe(2);
      const reply = await send(required.url);
      expect(reply.status).toBe(400);
      expect(reply.headers.get("cache-control")).toBe("no-store");
      expect(reply.json()).toMatchObject({ type: "https://oncely.dev/problems/key-required", status: 400 });
      expect(required.count()).toBe(0);
      expect((await send(required.url, { method: "GET" })).status).toBe(201);
    } finally {
      await optional.close();
      await required.close();
    }
  });

  it("reads the key from another header name when configured", async () => {
    const server = await guardedServer(store, { header: "X-Request-Key" });
    try {
      const key = newKey();
      await send(server.url, { headers: { "x-request-key": key } });
      const replay = await send(server.url, { headers: { "x-request-key": key } });
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      await send(server.url, { headers: { "idempotency-key": key } });
      expect(server.count()).toBe(2);
    } finally {
      await server.close();
    }
  });

  it("supports a custom extractor such as the JSON body field idempotency_key", async () => {
    const server = await guardedServer(store, {
      key: (request) => {
        const parsed = JSON.parse(Buffer.from(request.body ?? []).toString() || "{}") as {
          idempotency_key?: string;
        };
        return parsed.idempotency_key;
      },
    });
    try {
      const body = JSON.stringify({ idempotency_key: newKey(), amount: 5 });
      const first = await send(server.url, { body });
      const replay = await send(server.url, { body });
      expect(first.json()).toMatchObject({ body }); // the handler still reads the whole body
      expect(replay.body.equals(first.body)).toBe(true);
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      const invalid = await send(server.url, { body: JSON.stringify({ idempotency_key: "x".repeat(200) }) });
      expect(invalid.status).toBe(400);
      await send(server.url, { body: "{}" });
      expect(server.count()).toBe(2);
    } finally {
      await server.close();
    }
  });
});
