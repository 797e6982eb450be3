// Through the Express adapter, on every store: credentials (bearer tokens, API keys, session
// cookies) that scope the records never reach the stored bytes or the hooks' log lines, and the
// size caps hold against oversized requests and responses.
import { randomUUID } from "node:crypto";
import express from "express";
import { afterAll, describe, expect, it } from "vitest";
import { idempotency } from "../../src/adapters/express/index.js";
import type { IdempotencyOptions } from "../../src/core/options.js";
import type { IdempotencyStore } from "../../src/store.js";
import { type Backend, backends } from "../helpers/backends.js";
import { listen, newKey, send, type TestServer } from "../helpers/http.js";

/** An Express app guarded by oncely over `store`, writing every hook event to `log` as JSON. */
async function app(store: IdempotencyStore, log: string[], options: Omit<IdempotencyOptions, "store"> = {}) {
  const line = (name: string) => (event: object) => void log.push(JSON.stringify({ hook: name, ...event }));
  const application = express();
  application.use(
    idempotency({
      store,
      hooks: {
        onExecuted: line("executed"),
        onReplayed: line("replayed"),
        onReleased: line("released"),
        onConflict: line("conflict"),
        onMismatch: line("mismatch"),
        onStoreError: line("store-error"),
      },
      ...options,
    }),
  );
  let executions = 0;
  application.post("/orders", express.text({ type: "*/*" }), (req, res) => {
    executions++;
    res.status(201).json({ execution: executions, echo: req.body });
  });
  application.post("/export", (_req, res) => {
    executions++;
    res.status(200).type("text/plain");
    // 2 MiB in 64 writes: a first 1 MiB chunk goes to the store before the cap is passed.
    for (let i = 0; i < 64; i++) res.write(`export line ${i} ${"z".repeat(32 * 1024 - 20)}\n`);
    res.end();
  });
  const server = await listen(application);
  return { ...server, count: () => executions };
}

describe.each(backends())("credentials and caps through the Express adapter ($name)", (backend: Backend) => {
  const opened: Array<IdempotencyStore | TestServer> = [];
  afterAll(async () => {
    for (const thing of opened) await thing.close();
  });
  const start = async (log: string[], options?: Omit<IdempotencyOptions, "store">) => {
    const store = await backend.open();
    opened.push(store);
    const server = await app(store, log, options);
    opened.push(server);
    return server;
  };

  it("keeps bearer tokens, API keys and session cookies out of the stored bytes and the log", async () => {
    const log: string[] = [];
    const token = `sk_live_${randomUUID()}`;
    const apiKey = `ak_${randomUUID()}`;
    const cookie = `sess_${randomUUID()}`;
    const byAuthorization = await start(log);
    const byApiKey = await start(log, { scopeHeader: "x-api-key" });
    const byCookie = await start(log, { scopeCookie: "session" });
    const calls = [
      { server: byAuthorization, headers: { authorization: `Bearer ${token}` } },
      { server: byApiKey, headers: { "x-api-key": apiKey } },
      { server: byCookie, headers: { cookie: `theme=dark; session=${cookie}` } },
    ];
    for (const { server, headers } of calls) {
      const key = newKey();
      const request = { headers: { ...headers, "idempotency-key": key }, body: "one order" };
      expect((await send(`${server.url}/orders`, request)).status).toBe(201);
      const replay = await send(`${server.url}/orders`, request);
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      // Another credential with the same key is another scope: it executes.
      const other = await send(`${server.url}/orders`, { ...request, headers: { "idempotency-key": key } });
      expect(other.headers.get("x-idempotency-replayed")).toBeNull();
    }
    const stored = await backend.raw();
    const logged = log.join("\n");
    expect(stored.includes("one order")).toBe(true);
    expect(logged).toContain('"hook":"replayed"');
    for (const secret of [token, apiKey, cookie]) {
      expect(stored.includes(secret), secret).toBe(false);
      expect(logged.includes(secret), secret).toBe(false);
    }
  });

  it("answers an oversized request body 413 and keeps nothing of it: the key is free for a proper retry", async () => {
    const server = await start([], { maxRequestBodyBytes: 64 * 1024, maxUploadBytes: 128 * 1024 });
    const key = newKey();
    const marker = `huge-${randomUUID()}`;
    const huge = `${marker}${"x".repeat(256 * 1024)}`;
    const refused = await send(`${server.url}/orders`, { headers: { "idempotency-key": key }, body: huge });
    expect(refused.status).toBe(413);
    expect(server.count()).toBe(0);
    expect((await backend.raw()).includes(marker)).toBe(false);
    const retry = await send(`${server.url}/orders`, { headers: { "idempotency-key": key }, body: "small" });
    expect(retry.status).toBe(201);
    expect(server.count()).toBe(1);
  });

  it("stores no byte of a streamed response above maxBodyBytes, yet keeps its key completed", async () => {
    const server = await start([], { maxBodyBytes: 1536 * 1024 });
    const key = newKey();
    const first = await send(`${server.url}/export`, { headers: { "idempotency-key": key } });
    expect(first.body.length).toBeGreaterThan(2_000_000);
    const replay = await send(`${server.url}/export`, { headers: { "idempotency-key": key } });
    expect(replay.headers.get("x-idempotency-body-omitted")).toBe("true");
    expect(replay.body.length).toBe(0);
    expect(server.count()).toBe(1);
    // The live records; SQLite's file may still hold the discarded chunk in a free page.
    expect((await backend.rows()).includes("export line")).toBe(false);
  });
});
