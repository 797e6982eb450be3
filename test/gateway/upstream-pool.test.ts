// The gateway's pool of upstream connections: an upstream that answers before reading the
// whole body must not poison it, and a stale pooled connection costs a safe request nothing.
import { once } from "node:events";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createDemoApi } from "../../src/demo/api.js";
import { MonthlyQuota } from "../../src/demo/quota.js";
import { createGateway, type Gateway } from "../../src/gateway/index.js";
import { createStore } from "../../src/index.js";
import { newKey, send } from "../helpers/http.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function gatewayTo(upstream: string): Promise<string> {
  const gateway: Gateway = createGateway({
    upstream,
    store: await createStore("memory:"),
    upstreamTimeout: 20_000,
  });
  const { port } = await gateway.listen(0, "127.0.0.1");
  cleanups.push(() => gateway.close(0));
  return `http://127.0.0.1:${port}`;
}

async function serve(server: net.Server): Promise<string> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(
    () =>
      new Promise((resolve) => {
        (server as http.Server).closeAllConnections?.();
        server.close(resolve);
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * POSTs `body` the way curl sends a large file: `Expect: 100-continue`, the body only after
 * the server's go-ahead (or its early final answer).
 */
function postLikeCurl(url: string, body: Buffer, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method: "POST",
      agent: false,
      headers: { ...headers, expect: "100-continue", "content-length": String(body.length) },
    });
    request.once("continue", () => request.end(body));
    request.once("response", (response) => {
      response.resume();
      response.once("end", () => resolve(response.statusCode ?? 0));
    });
    request.once("error", reject);
  });
}

describe("the upstream connection pool", () => {
  it("does not reuse the connection of a 3.8 MB POST the demo refused unread: the next GET is answered at once", async () => {
    const gateway = await gatewayTo(await serve(createDemoApi(new MonthlyQuota(100))));
    const auth = { authorization: "Bearer pool-test" };
    const big = Buffer.alloc(3.8 * 1024 * 1024, "a");
    for (const key of [undefined, newKey()]) {
      const headers = { ...auth, "content-type": "text/csv", ...(key ? { "idempotency-key": key } : {}) };
      expect(await postLikeCurl(`${gateway}/v1/convert?target=json`, big, headers)).toBe(413);
      const started = Date.now();
      const quota = await send(`${gateway}/v1/quota`, { method: "GET", headers: auth });
      expect(quota.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(2000);
    }
  });
});

/**
 * A keep-alive HTTP/1.1 upstream on a raw socket that answers the first request of each
 * connection and closes the connection, unanswered, on the second: a pooled connection
 * that went stale just as the gateway reused it.
 */
async function upstreamClosingReusedConnections(): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = net.createServer((socket) => {
    let buffered = Buffer.alloc(0);
    let answered = 0;
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const end = buffered.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buffered.subarray(0, end).toString("latin1");
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        buffered = buffered.subarray(end + 4 + length);
        requests.push(head.split(" ", 2).join(" "));
        if (answered++ > 0) return void socket.destroy();
        socket.write("HTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok");
      }
    });
  });
  return { url: await serve(server), requests };
}

describe("a request that fails on a stale pooled connection", () => {
  it("is sent again on a new connection when it is safe and unguarded", async () => {
    const upstream = await upstreamClosingReusedConnections();
    const gateway = await gatewayTo(upstream.url);
    expect((await send(`${gateway}/a`, { method: "GET" })).status).toBe(201);
    // Reuses the pooled connection, which the upstream closes unanswered; sent again on a new one.
    const reused = await send(`${gateway}/a`, { method: "HEAD" });
    expect(reused.status).toBe(201);
    expect(upstream.requests).toEqual(["GET /a", "HEAD /a", "HEAD /a"]);
  });

  it("is never sent again when guarded, or unsafe: the upstream may have acted on it", async () => {
    const upstream = await upstreamClosingReusedConnections();
    const gateway = await gatewayTo(upstream.url);
    expect(
      (await send(`${gateway}/a`, { headers: { "idempotency-key": newKey() }, body: "{}" })).status,
    ).toBe(201);
    const guarded = await send(`${gateway}/a`, { headers: { "idempotency-key": newKey() }, body: "{}" });
    expect(guarded.status).toBe(502);
    expect((await send(`${gateway}/a`, { method: "GET" })).status).toBe(201);
    const unguarded = await send(`${gateway}/a`, { method: "DELETE" });
    expect(unguarded.status).toBe(502);
    expect(upstream.requests).toEqual(["POST /a", "POST /a", "GET /a", "DELETE /a"]);
  });
});

describe("an upstream whose Keep-Alive hint is too short to reuse its connections safely", () => {
  it("gets a new connection for each request, so none races the upstream closing it", async () => {
    let connections = 0;
    const server = http.createServer((req, res) => {
      req.resume();
      res.statusCode = 201;
      res.end("ok");
    });
    // Announced as `Keep-Alive: timeout=1`: closed a second after each answer.
    server.keepAliveTimeout = 1_000;
    server.on("connection", () => {
      connections += 1;
    });
    const gateway = await gatewayTo(await serve(server));
    for (let i = 0; i < 3; i++) {
      const reply = await send(`${gateway}/a`, { headers: { "idempotency-key": newKey() }, body: "{}" });
      expect(reply.status).toBe(201);
    }
    expect(connections).toBe(3);
  });
});
