import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IdempotencyStore } from "../../src/store.js";
import { guardedServer } from "../helpers/guarded.js";
import { newKey, send } from "../helpers/http.js";
import { claimed, completion, storeCases } from "../helpers/stores.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(storeCases())("replays and what is kept ($name store)", ({ create }) => {
  let store: IdempotencyStore;
  beforeAll(async () => {
    store = await create();
  });
  afterAll(() => store.close());

  it("replays status, headers and body bytes exactly, marked only on the replay", async () => {
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const server = await guardedServer(store, {}, (_req, res) => {
      res.writeHead(202, "Accepted Later", { "content-type": "application/octet-stream", "x-order": "42" });
      res.end(binary);
    });
    try {
      const key = newKey();
      const first = await send(server.url, { headers: { "idempotency-key": key } });
      const replay = await send(server.url, { headers: { "idempotency-key": key } });
      expect(first.headers.get("x-idempotency-replayed")).toBeNull();
      expect(replay.status).toBe(202);
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      expect(replay.headers.get("content-type")).toBe("application/octet-stream");
      expect(replay.headers.get("x-order")).toBe("42");
      expect(replay.body.equals(binary)).toBe(true);
      expect(first.body.equals(binary)).toBe(true);
      expect(replay.headers.get("date")).not.toBeNull();
      expect(server.count()).toBe(1);
    } finally {
      await server.close();
    }
  });

  it("keeps repeated headers, drops Set-Cookie and hop-by-hop headers unless allowed", async () => {
    const respond = (_req: unknown, res: import("node:http").ServerResponse) => {
      res.setHeader("set-cookie", ["a=1", "b=2"]);
      res.setHeader("link", ["</a>; rel=preload", "</b>; rel=preload"]);
      res.setHeader("connection", "x-hop");
      res.setHeader("x-hop", "per-connection");
      res.statusCode = 200;
      res.end("ok");
    };
    const server = await guardedServer(store, {}, respond);
    const cookies = await guardedServer(store, { responseHeaders: { deny: [] } }, respond);
    const allowList = await guardedServer(store, { responseHeaders: { allow: ["link"] } }, respond);
    try {
      const key = newKey();
      await send(server.url, { headers: { "idempotency-key": key } });
      const replay = await send(server.url, { headers: { "idempotency-key": key } });
      expect(replay.headers.getSetCookie()).toEqual([]);
      expect(replay.headers.get("link")).toBe("</a>; rel=preload, </b>; rel=preload");
      expect(replay.headers.get("x-hop")).toBeNull();

      const withCookies = newKey();
      await send(cookies.url, { headers: { "idempotency-key": withCookies } });
      const cookieReplay = await send(cookies.url, { headers: { "idempotency-key": withCookies } });
      expect(cookieReplay.headers.getSetCookie()).toEqual(["a=1", "b=2"]);

      const allowed = newKey();
      await send(allowList.url, { headers: { "idempotency-key": allowed } });
      const allowedReplay = await send(allowList.url, { headers: { "idempotency-key": allowed } });
      expect(allowedReplay.headers.get("link")).not.toBeNull();
      expect(allowedReplay.headers.get("x-hop")).toBeNull();
      expect(allowedReplay.headers.getSetCookie()).toEqual([]);
    } finally {
      await Promise.all([server.close(), cookies.close(), allowList.close()]);
    }
  });

  it("uses the configured replay header name", async () => {
    const server = await guardedServer(store, { replayHeader: "Idempotent-Replayed" });
    try {
      const key = newKey();
      await send(server.url, { headers: { "idempotency-key": key } });
      const replay = await send(server.url, { headers: { "idempotency-key": key } });
      expect(replay.headers.get("idempotent-replayed")).toBe("true");
      expect(replay.headers.get("x-idempotency-replayed")).toBeNull();
    } finally {
      await server.close();
    }
  });

  it("stores final statuses below 500 and releases 5xx, 'try again' and 'never ran' statuses", async () => {
    const server = await guardedServer(store, {}, (req, res) => {
      res.statusCode = Number(req.headers["x-status"]);
      res.end(`status ${res.statusCode}`);
    });
    try {
      const kept = [200, 201, 204, 400, 422];
      for (const status of kept) {
        const key = newKey();
        const headers = { "idempotency-key": key, "x-status": String(status) };
        await send(server.url, { headers });
        const replay = await send(server.url, { headers });
        expect(replay.status, String(status)).toBe(status);
        expect(replay.headers.get("x-idempotency-replayed"), String(status)).toBe("true");
      }
      const stored = server.count();
      expect(stored).toBe(kept.length);
      const released = [500, 502, 503, 408, 409, 425, 429, 401, 403, 404, 405, 411, 413, 414, 415, 431];
      for (const status of released) {
        const key = newKey();
        const headers = { "idempotency-key": key, "x-status": String(status) };
        await send(server.url, { headers });
        const retry = await send(server.url, { headers });
        expect(retry.status, String(status)).toBe(status);
        expect(retry.headers.get("x-idempotency-replayed"), String(status)).toBeNull();
      }
      expect(server.count()).toBe(stored + 2 * released.length);
    } finally {
      await server.close();
    }
  });

  it("runs a corrected retry after a refusal that ran nothing (415 for a missing Content-Type)", async () => {
    const server = await guardedServer(store, {}, (req, res) => {
      if (req.headers["content-type"] !== "text/csv") {
        res.writeHead(415, { "content-type": "application/problem+json" });
        return void res.end('{"title":"send text/csv"}');
      }
      res.writeHead(201);
      res.end("converted");
    });
    try {
      const key = newKey();
      const refused = await send(server.url, { headers: { "idempotency-key": key }, body: "a,b" });
      expect(refused.status).toBe(415);
      const headers = { "idempotency-key": key, "content-type": "text/csv" };
      const corrected = await send(server.url, { headers, body: "a,b" });
      expect([corrected.status, corrected.text]).toEqual([201, "converted"]);
      expect(corrected.headers.get("x-idempotency-replayed")).toBeNull();
      const replay = await send(server.url, { headers, body: "a,b" });
      expect([replay.status, replay.headers.get("x-idempotency-replayed")]).toEqual([201, "true"]);
      expect(server.count()).toBe(2);
    } finally {
      await server.close();
    }
  });

  it("keeps out an answer marked X-Idempotency-Store: no, whatever shouldStore says, and never sends the header", async () => {
    const released: string[] = [];
    const respond = (req: IncomingMessage, res: ServerResponse) => {
      const mark = req.headers["x-mark"];
      if (typeof mark === "string")
        res.setHeader(String(req.headers["x-mark-header"] ?? "X-Idempotency-Store"), mark);
      res.writeHead(Number(req.headers["x-status"] ?? 400), { "content-type": "text/plain" });
      res.end("answer");
    };
    const hooks = { onReleased: (event: { reason: string }) => void released.push(event.reason) };
    const server = await guardedServer(store, { shouldStore: () => true, hooks }, respond);
    const renamed = await guardedServer(store, { storeHeader: "X-Keep" }, respond);
    try {
      // "no" (any case): sent, not stored, key released, header gone; the retry executes again.
      const key = newKey();
      const marked = { "idempotency-key": key, "x-mark": " No " };
      const first = await send(server.url, { headers: marked });
      expect([first.status, first.headers.get("x-idempotency-store")]).toEqual([400, null]);
      const second = await send(server.url, { headers: marked });
      expect(second.headers.get("x-idempotency-replayed")).toBeNull();
      expect(server.count()).toBe(2);
      expect(released).toEqual(["declined", "declined"]);

      // Another value keeps the answer, and the header is neither sent nor stored.
      const other = { "idempotency-key": newKey(), "x-mark": "yes" };
      expect((await send(server.url, { headers: other })).headers.get("x-idempotency-store")).toBeNull();
      const replay = await send(server.url, { headers: other });
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      expect(replay.headers.get("x-idempotency-store")).toBeNull();

      // storeHeader renames it; the default name then means nothing and is left alone.
      const custom = {
        "idempotency-key": newKey(),
        "x-mark": "no",
        "x-mark-header": "X-Keep",
        "x-status": "200",
      };
      expect((await send(renamed.url, { headers: custom })).headers.get("x-keep")).toBeNull();
      expect((await send(renamed.url, { headers: custom })).headers.get("x-idempotency-replayed")).toBeNull();
      expect(renamed.count()).toBe(2);
    } finally {
      await server.close();
      await renamed.close();
    }
  });

  it("follows a custom shouldStore rule", async () => {
    const server = await guardedServer(store, { shouldStore: (status) => status < 400 }, (req, res) => {
      res.statusCode = Number(req.headers["x-status"]);
      res.end();
    });
    try {
      const key = newKey();
      for (const status of [404, 404]) {
        await send(server.url, { headers: { "idempotency-key": key, "x-status": String(status) } });
      }
      expect(server.count()).toBe(2);
    } finally {
      await server.close();
    }
  });

  it("sends nothing and keeps the handler unharmed when shouldStore throws", async () => {
    const server = await guardedServer(
      store,
      {
        shouldStore: () => {
          throw new Error("broken rule");
        },
      },
      (_req, res) => {
        res.end("judged");
      },
    );
    try {
      // The response cannot be judged: the connection is cut rather than left hanging.
      await expect(send(server.url, { headers: { "idempotency-key": newKey() } })).rejects.toThrow();
      expect(server.count()).toBe(1);
    } finally {
      await server.close();
    }
  });

  it("releases the key when the handler throws, so a retry executes", async () => {
    const server = await guardedServer(store, {}, (_req, res, _body, count) => {
      if (count === 1) throw new Error("boom");
      res.end("second try");
    });
    try {
      const key = newKey();
      const failed = await send(server.url, { headers: { "idempotency-key": key } });
      expect(failed.status).toBe(500);
      const retry = await send(server.url, { headers: { "idempotency-key": key } });
      expect(retry.text).toBe("second try");
      expect(server.count()).toBe(2);
    } finally {
      await server.close();
    }
  });

  it("stores the response of a handler whose client disconnected, so the retry is a replay", async () => {
    let finish: () => void = () => {};
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const server = await guardedServer(store, { lease: 300 }, async (_req, res) => {
      await sleep(600); // longer than the lease: renewal must keep the key
      res.statusCode = 201;
      res.end("created once");
      finish();
    });
    try {
      const key = newKey();
      const controller = new AbortController();
      const aborted = send(server.url, { headers: { "idempotency-key": key }, signal: controller.signal });
      await claimed(store, key);
      controller.abort();
      await expect(aborted).rejects.toThrow();
      const duplicate = await send(server.url, { headers: { "idempotency-key": key } });
      expect(duplicate.status).toBe(409);
      await finished;
      await completion(store, key);
      const retry = await send(server.url, { headers: { "idempotency-key": key } });
      expect(retry.status).toBe(201);
      expect(retry.text).toBe("created once");
      expect(retry.headers.get("x-idempotency-replayed")).toBe("true");
      expect(server.count()).toBe(1);
    } finally {
      await server.close();
    }
  });

  it("keeps a writeHead hook that the handler adds after oncely, as on-headers does", async () => {
    const server = await guardedServer(store, {}, (_req, res) => {
      const original = res.writeHead;
      res.writeHead = function (this: typeof res, ...args: Parameters<typeof original>) {
        this.setHeader("x-late", "set in writeHead");
        return original.apply(this, args);
      } as typeof original;
      res.statusCode = 201;
      res.end("ok");
    });
    try {
      const reply = await send(server.url, { headers: { "idempotency-key": newKey() } });
      expect([reply.status, reply.headers.get("x-late")]).toEqual([201, "set in writeHead"]);
    } finally {
      await server.close();
    }
  });

  it("lets the key go about a lease after the client left a handler that never answers", async () => {
    const server = await guardedServer(store, { lease: 300 }, (_req, res) => {
      // The first execution hangs for good; a later one answers.
      if (server.count() > 1) res.writeHead(201).end("second");
    });
    try {
      const key = newKey();
      const controller = new AbortController();
      const aborted = send(server.url, { headers: { "idempotency-key": key }, signal: controller.signal });
      await claimed(store, key);
      await sleep(500); // more than a lease: renewal holds the key while the client waits
      expect((await send(server.url, { headers: { "idempotency-key": key } })).status).toBe(409);
      controller.abort();
      await expect(aborted).rejects.toThrow();
      const left = Date.now();
      let retry = await send(server.url, { headers: { "idempotency-key": key } });
      while (retry.status === 409 && Date.now() - left < 3000) {
        await sleep(50);
        retry = await send(server.url, { headers: { "idempotency-key": key } });
      }
      expect(retry.status).toBe(201);
      expect(Date.now() - left).toBeGreaterThanOrEqual(300);
      expect(server.count()).toBe(2);
    } finally {
      await server.close();
    }
  });

  it("expires records after the ttl, and the key then executes anew", async () => {
    const server = await guardedServer(store, { ttl: 400 });
    try {
      const key = newKey();
      await send(server.url, { headers: { "idempotency-key": key } });
      expect(
        (await send(server.url, { headers: { "idempotency-key": key } })).headers.get(
          "x-idempotency-replayed",
        ),
      ).toBe("true");
      await sleep(700);
      const fresh = await send(server.url, { headers: { "idempotency-key": key } });
      expect(fresh.headers.get("x-idempotency-replayed")).toBeNull();
      expect(server.count()).toBe(2);
    } finally {
      await server.close();
    }
  });

  it("stores a small response of known length before sending it", async () => {
    const server = await guardedServer(store, {}, (_req, res) => {
      res.setHeader("content-length", "5");
      res.write("he");
      res.end("llo");
    });
    try {
      const key = newKey();
      const first = await send(server.url, { headers: { "idempotency-key": key } });
      expect(first.text).toBe("hello");
      // By the time the client has the response, the record is already completed.
      const record = await store.get({ scope: "anonymous", key });
      expect(record?.state).toBe("completed");
    } finally {
      await server.close();
    }
  });

  it("streams a response written over time to the client before it ends", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const server = await guardedServer(store, {}, async (_req, res) => {
      res.statusCode = 200;
      res.write("first part;");
      await gate;
      res.end("second part");
    });
    try {
      const key = newKey();
      const response = await fetch(server.url, { method: "POST", headers: { "idempotency-key": key } });
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const firstRead = await reader.read();
      expect(Buffer.from(firstRead.value ?? []).toString()).toBe("first part;");
      expect((await store.get({ scope: "anonymous", key }))?.state).toBe("in_flight");
      release();
      let rest = "";
      for (let part = await reader.read(); !part.done; part = await reader.read())
        rest += Buffer.from(part.value).toString();
      expect(rest).toBe("second part");
      await completion(store, key);
      const replay = await send(server.url, { headers: { "idempotency-key": key } });
      expect(replay.text).toBe("first part;second part");
    } finally {
      await server.close();
    }
  });

  it("replays a 50 MiB streamed response byte for byte", async () => {
    const pieceSize = 64 * 1024;
    const pieces = 800; // 50 MiB
    const server = await guardedServer(store, {}, async (_req, res) => {
      res.setHeader("content-type", "application/octet-stream");
      for (let i = 0; i < pieces; i++) {
        if (!res.write(Buffer.alloc(pieceSize, i % 251)))
          await new Promise((resolve) => res.once("drain", resolve));
      }
      res.end();
    });
    const expected = createHash("sha256");
    for (let i = 0; i < pieces; i++) expected.update(Buffer.alloc(pieceSize, i % 251));
    const digest = expected.digest("hex");
    // Each wait for 'drain' must let go of its listeners: left behind, they pile up on the
    // response until Node warns of a leak.
    const leaks: Error[] = [];
    const onWarning = (warning: Error) => {
      if (warning.name === "MaxListenersExceededWarning") leaks.push(warning);
    };
    process.on("warning", onWarning);
    try {
      const key = newKey();
      const first = await send(server.url, { headers: { "idempotency-key": key } });
      expect(first.body.length).toBe(pieces * pieceSize);
      expect(createHash("sha256").update(first.body).digest("hex")).toBe(digest);
      await completion(store, key);
      const replay = await send(server.url, { headers: { "idempotency-key": key } });
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      expect(replay.headers.get("content-length")).toBe(String(pieces * pieceSize));
      expect(createHash("sha256").update(replay.body).digest("hex")).toBe(digest);
      expect(server.count()).toBe(1);
      await new Promise((resolve) => setImmediate(resolve));
      expect(leaks).toEqual([]);
    } finally {
      process.off("warning", onWarning);
      await server.close();
    }
  }, 60_000);

  it("delivers a response above maxBodyBytes in full and keeps the key completed without its body", async () => {
    const body = "y".repeat(5000);
    const server = await guardedServer(store, { maxBodyBytes: 1000 }, (_req, res) => {
      res.setHeader("content-type", "text/plain");
      res.statusCode = 201;
      res.end(body);
    });
    try {
      const key = newKey();
      const first = await send(server.url, { headers: { "idempotency-key": key } });
      expect(first.text).toBe(body);
      const replay = await send(server.url, { headers: { "idempotency-key": key } });
      expect(replay.status).toBe(201);
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      expect(replay.headers.get("x-idempotency-body-omitted")).toBe("true");
      expect(replay.headers.get("content-type")).toBeNull();
      expect(replay.body.length).toBe(0);
      expect(server.count()).toBe(1);
    } finally {
      await server.close();
    }
  });
});
