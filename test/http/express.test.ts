import { once } from "node:events";
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import express5 from "express";
import express4 from "express4";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { idempotency } from "../../src/adapters/express/index.js";
import { createStore } from "../../src/index.js";
import type { IdempotencyStore } from "../../src/store.js";
import { listen, newKey, send, type TestServer } from "../helpers/http.js";

const versions = [
  { name: "Express 5", express: express5 as unknown as typeof express5 },
  { name: "Express 4", express: express4 as unknown as typeof express5 },
];

describe.each(versions)("$name adapter", ({ express }) => {
  let store: IdempotencyStore;
  let server: TestServer;
  let late: TestServer;
  let executions = 0;

  beforeAll(async () => {
    store = await createStore("memory:");
    const app = express();
    app.use(idempotency({ store }));
    app.use(express.json());
    app.post("/orders", (req, res) => {
      executions++;
      res.status(201).set("x-order", String(executions)).json({ id: executions, echo: req.body });
    });
    // The route of docs/semantics.md §8: a refusal marked "do not keep".
    app.post("/validated", (req, res) => {
      executions++;
      if (typeof req.body.sku !== "string") {
        res.set("X-Idempotency-Store", "no").status(400).json({ error: "sku required" });
        return;
      }
      res.status(201).json({ sku: req.body.sku });
    });
    app.post("/fail", (_req, _res, next) => {
      executions++;
      next(new Error("handler failed"));
    });
    const router = express.Router();
    router.post("/items", (_req, res) => {
      executions++;
      res.send(`item ${executions}`);
    });
    app.use("/v1", router);
    const parsedFirst = express();
    parsedFirst.use(express.json());
    parsedFirst.post("/late", idempotency({ store }), (req, res) => {
      executions++;
      res.json({ got: req.body });
    });
    // Over maxRequestBodyBytes, yet read whole by the parser before oncely saw it.
    parsedFirst.post("/late-large", idempotency({ store, maxRequestBodyBytes: 16 }), (req, res) => {
      executions++;
      res.json({ got: req.body });
    });
    app.use(
      (
        error: Error,
        _req: unknown,
        res: { status(code: number): { send(body: string): void } },
        _next: unknown,
      ) => {
        res.status(500).send(error.message);
      },
    );
    server = await listen(app);
    late = await listen(parsedFirst);
  });
  afterAll(async () => {
    await server.close();
    await late.close();
    await store.close();
  });

  it("replays a JSON route and lets express.json() after it read the body", async () => {
    const before = executions;
    const key = newKey();
    const init = {
      headers: { "idempotency-key": key, "content-type": "application/json" },
      body: '{"sku":"A1"}',
    };
    const first = await send(`${server.url}/orders`, init);
    const replay = await send(`${server.url}/orders`, init);
    expect(first.status).toBe(201);
    expect(first.json()).toEqual({ id: before + 1, echo: { sku: "A1" } });
    expect(replay.status).toBe(201);
    expect(replay.body.equals(first.body)).toBe(true);
    expect(replay.headers.get("x-order")).toBe(first.headers.get("x-order"));
    expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
    const other = await send(`${server.url}/orders`, { ...init, body: '{"sku":"B2"}' });
    expect(other.status).toBe(422);
    expect(executions).toBe(before + 1);
  });

  it("reads a body that arrives in pieces or chunked as exactly as one that arrives whole", async () => {
    const before = executions;
    const key = newKey();
    const body = '{"sku":"pieces"}';
    const sent = [
      // Whole: with the headers in one write, so the body is buffered before oncely looks.
      await rawPost(server.url, key, `content-length: ${body.length}`, [body]),
      // Split: the rest of the body comes after oncely has started waiting for it.
      await rawPost(server.url, key, `content-length: ${body.length}`, [body.slice(0, 5), body.slice(5)]),
      await rawPost(server.url, key, "transfer-encoding: chunked", [
        `5\r\n${body.slice(0, 5)}\r\n`,
        `${(body.length - 5).toString(16)}\r\n${body.slice(5)}\r\n0\r\n\r\n`,
      ]),
    ];
    expect(sent.map((reply) => reply.split("\r\n")[0])).toEqual(Array(3).fill("HTTP/1.1 201 Created"));
    expect(sent[0]).toContain(`"echo":{"sku":"pieces"}`);
    expect(sent[1]).toContain("x-idempotency-replayed: true");
    expect(sent[2]).toContain("x-idempotency-replayed: true");
    const other = await rawPost(server.url, key, "transfer-encoding: chunked", [
      `5\r\n${body.slice(0, 5)}\r\n`,
      `3\r\nXYZ\r\n0\r\n\r\n`,
    ]);
    expect(other.split("\r\n")[0]).toBe("HTTP/1.1 422 Unprocessable Entity");
    expect(executions).toBe(before + 1);
  });

  it("captures responses sent from a mounted sub-app, on the way back from one, and behind another hook", async () => {
    let count = 0;
    const sub = express();
    sub.post("/orders", (_req, res) => {
      count++;
      res.status(201).json({ in: "sub", count });
    });
    // Guarded inside a sub-app that does not answer: the parent answers after Express has
    // swapped the response's prototype back on the way out.
    const guardedSub = express();
    guardedSub.use(idempotency({ store }));
    const app = express();
    // A middleware before oncely that wraps res.end on the response itself, as compression does.
    let wrapped = 0;
    app.use("/wrapped", (_req, res, next) => {
      const end = res.end;
      res.end = function (this: typeof res, ...args: unknown[]) {
        wrapped++;
        return end.apply(this, args as never);
      } as typeof res.end;
      next();
    });
    app.use("/guarded-sub", guardedSub);
    app.post("/guarded-sub/orders", (_req, res) => {
      count++;
      res.status(201).json({ in: "parent", count });
    });
    app.use(idempotency({ store }));
    app.use("/sub", sub);
    app.post("/wrapped/orders", (_req, res) => {
      count++;
      res.status(201).json({ in: "wrapped", count });
    });
    const mounted = await listen(app);
    try {
      for (const path of ["/sub/orders", "/guarded-sub/orders", "/wrapped/orders"]) {
        const key = newKey();
        const first = await send(`${mounted.url}${path}`, { headers: { "idempotency-key": key } });
        const replay = await send(`${mounted.url}${path}`, { headers: { "idempotency-key": key } });
        expect(first.status).toBe(201);
        expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
        expect(replay.body.equals(first.body)).toBe(true);
      }
      expect(count).toBe(3);
      expect(wrapped).toBe(2);
    } finally {
      await mounted.close();
    }
  });

  it("keeps no answer marked X-Idempotency-Store: no, so the corrected retry executes", async () => {
    const before = executions;
    const key = newKey();
    const post = (body: string) =>
      send(`${server.url}/validated`, {
        headers: { "idempotency-key": key, "content-type": "application/json" },
        body,
      });
    const refused = await post("{}");
    expect([refused.status, refused.headers.get("x-idempotency-store")]).toEqual([400, null]);
    // The corrected body changes the fingerprint, yet no 422: the refusal left no record.
    const corrected = await post('{"sku":"A1"}');
    expect([corrected.status, corrected.headers.get("x-idempotency-replayed")]).toEqual([201, null]);
    expect((await post('{"sku":"A1"}')).headers.get("x-idempotency-replayed")).toBe("true");
    expect(executions).toBe(before + 2);
  });

  it("releases the key when the route fails through the error handler", async () => {
    const before = executions;
    const key = newKey();
    expect((await send(`${server.url}/fail`, { headers: { "idempotency-key": key } })).status).toBe(500);
    expect((await send(`${server.url}/fail`, { headers: { "idempotency-key": key } })).status).toBe(500);
    expect(executions).toBe(before + 2);
  });

  it("fingerprints the full path of a mounted router", async () => {
    const before = executions;
    const key = newKey();
    await send(`${server.url}/v1/items`, { headers: { "idempotency-key": key } });
    expect((await send(`${server.url}/v1/items`, { headers: { "idempotency-key": key } })).text).toBe(
      `item ${before + 1}`,
    );
    expect(executions).toBe(before + 1);
  });

  it("works on one route mounted after a body parser, fingerprinting the parsed body", async () => {
    const before = executions;
    const key = newKey();
    const init = { headers: { "idempotency-key": key, "content-type": "application/json" } };
    const first = await send(`${late.url}/late`, { ...init, body: '{"a":1}' });
    const replay = await send(`${late.url}/late`, { ...init, body: '{"a":1}' });
    expect(first.json()).toEqual({ got: { a: 1 } });
    expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
    expect((await send(`${late.url}/late`, { ...init, body: '{"a":2}' })).status).toBe(422);
    expect(executions).toBe(before + 1);
  });

  it("fingerprints the parsed body of a route after a body parser even when it is over maxRequestBodyBytes", async () => {
    const before = executions;
    const key = newKey();
    const init = { headers: { "idempotency-key": key, "content-type": "application/json" } };
    const body = JSON.stringify({ note: "x".repeat(100) });
    const first = await send(`${late.url}/late-large`, { ...init, body });
    const replay = await send(`${late.url}/late-large`, { ...init, body });
    expect(first.status).toBe(200);
    expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
    const other = JSON.stringify({ note: "y".repeat(100) });
    expect((await send(`${late.url}/late-large`, { ...init, body: other })).status).toBe(422);
    expect(executions).toBe(before + 1);
  });
});

/**
 * POSTs /orders over a raw socket: the head and the first piece of the body in one write,
 * each further piece 50 ms later. Resolves with the whole raw response.
 */
async function rawPost(url: string, key: string, framing: string, pieces: string[]): Promise<string> {
  const { port } = new URL(url);
  const socket = connect(Number(port), "127.0.0.1");
  await once(socket, "connect");
  const received: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => received.push(chunk));
  const ended = once(socket, "end");
  const head = `POST /orders HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-type: application/json\r\nidempotency-key: ${key}\r\n${framing}\r\n\r\n`;
  for (const [index, piece] of pieces.entries()) {
    socket.write(index === 0 ? head + piece : piece);
    if (index < pieces.length - 1) await sleep(50);
  }
  await ended;
  return Buffer.concat(received).toString();
}
