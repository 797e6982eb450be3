// The reverse proxy itself, black-box: what it forwards, streaming both ways, and what
// happens when the upstream is down, slow or breaks off.
import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listen, newKey, send } from "../helpers/http.js";
import {
  type GatewayProcess,
  rawRequest,
  readResponse,
  startGateway,
  startUpstream,
  type Upstream,
} from "./helpers.js";

let upstream: Upstream;
let gateway: GatewayProcess;
const started: GatewayProcess[] = [];

async function gatewayFor(url: string, ...args: string[]): Promise<GatewayProcess> {
  const child = await startGateway(["--upstream", url, "--store", "memory:", "--log-level", "warn", ...args]);
  started.push(child);
  return child;
}

beforeAll(async () => {
  upstream = await startUpstream();
  gateway = await gatewayFor(upstream.url);
});

afterAll(async () => {
  await Promise.all(started.map((child) => child.stop("SIGKILL")));
  await upstream?.close();
});

describe("forwarding", () => {
  it("passes method, path, query, body and end-to-end headers, and adds X-Forwarded-*", async () => {
    const reply = await send(`${gateway.url}/orders/7?expand=items&x=%20`, {
      method: "PUT",
      headers: { "x-custom": "kept", authorization: "Bearer secret", "content-type": "text/plain" },
      body: "hello",
    });
    expect(reply.status).toBe(201);
    const seen = upstream.seen.at(-1);
    expect(seen?.method).toBe("PUT");
    expect(seen?.url).toBe("/orders/7?expand=items&x=%20");
    expect(seen?.body.toString()).toBe("hello");
    expect(seen?.headers["x-custom"]).toBe("kept");
    expect(seen?.headers.authorization).toBe("Bearer secret");
    expect(seen?.headers.host).toBe(`127.0.0.1:${upstream.port}`);
    expect(seen?.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(seen?.headers["x-forwarded-proto"]).toBe("http");
    expect(seen?.headers["x-forwarded-host"]).toBe(`127.0.0.1:${gateway.port}`);
  });

  it("appends to an incoming X-Forwarded-For and drops hop-by-hop headers", async () => {
    const request = rawRequest(gateway.url, {
      method: "GET",
      headers: [
        "X-Forwarded-For",
        "203.0.113.9",
        "Connection",
        "keep-alive, X-Hop",
        "X-Hop",
        "1",
        "Keep-Alive",
        "timeout=5",
      ],
    });
    request.end();
    expect((await readResponse(request)).status).toBe(201);
    const seen = upstream.seen.at(-1);
    expect(seen?.headers["x-forwarded-for"]).toBe("203.0.113.9, 127.0.0.1");
    expect(seen?.headers["x-hop"]).toBeUndefined();
    expect(seen?.headers["keep-alive"]).toBeUndefined();
  });

  it("prepends the upstream URL's path", async () => {
    const prefixed = await gatewayFor(`${upstream.url}/api/v2`);
    await send(`${prefixed.url}/orders?a=1`, { method: "GET" });
    expect(upstream.seen.at(-1)?.url).toBe("/api/v2/orders?a=1");
  });

  it("returns the upstream's status and headers, repeated ones included", async () => {
    const reply = await send(gateway.url, {
      method: "GET",
      headers: { "x-status": "418", "x-set-cookie": "1" },
    });
    expect(reply.status).toBe(418);
    expect(reply.headers.get("x-upstream")).toBe("yes");
    expect(reply.headers.getSetCookie()).toEqual(["session=secret; HttpOnly", "theme=dark"]);
  });

  it("serves its own endpoints under --admin-prefix and proxies the default prefix then", async () => {
    const custom = await gatewayFor(upstream.url, "--admin-prefix", "/ops/oncely");
    expect((await send(`${custom.url}/ops/oncely/health`, { method: "GET" })).json()).toEqual({
      status: "ok",
      store: "reachable",
    });
    const before = upstream.count();
    expect((await send(`${custom.url}/_oncely/health`, { method: "GET" })).headers.get("x-upstream")).toBe(
      "yes",
    );
    expect(upstream.count()).toBe(before + 1);
  });
});

describe("streaming", () => {
  it("sends the first bytes of a response before the upstream has finished, and replays it whole", async () => {
    const key = newKey();
    const startedAt = Date.now();
    const request = rawRequest(gateway.url, {
      headers: { "idempotency-key": key, "x-chunks": "3", "x-chunk-delay": "600", "content-length": "0" },
    });
    request.end();
    const [response] = (await once(request, "response")) as [IncomingMessage];
    const chunks: Array<{ at: number; text: string }> = [];
    for await (const chunk of response) chunks.push({ at: Date.now() - startedAt, text: String(chunk) });
    const total = chunks.map((chunk) => chunk.text).join("");
    expect(total).toMatch(/^chunk 0 of execution (\d+)\nchunk 1 of execution \1\nchunk 2 of execution \1\n$/);
    expect(chunks[0]?.at).toBeLessThan(500);
    expect(chunks.at(-1)?.at).toBeGreaterThanOrEqual(1200);
    const replay = await send(gateway.url, {
      headers: { "idempotency-key": key, "x-chunks": "3", "x-chunk-delay": "600" },
    });
    expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
    expect(replay.text).toBe(total);
  });

  it("streams a request body to the upstream while the client is still sending it", async () => {
    let firstBytesAt = 0;
    const slowReader = await listen(async (req, res) => {
      for await (const _ of req) firstBytesAt ||= Date.now();
      res.end("done");
    });
    try {
      const streaming = await gatewayFor(slowReader.url);
      const request = rawRequest(streaming.url, {
        method: "PUT",
        headers: { "transfer-encoding": "chunked" },
      });
      request.write("first part;");
      await sleep(800);
      const secondPartAt = Date.now();
      request.end("second part");
      expect((await readResponse(request)).body.toString()).toBe("done");
      expect(firstBytesAt).toBeGreaterThan(0);
      expect(firstBytesAt).toBeLessThan(secondPartAt);
    } finally {
      await slowReader.close();
    }
  });
});

describe("upstream failures", () => {
  it("answers 502 problem+json while the upstream is down, releases the key, and works again once it is back", async () => {
    const doomed = await startUpstream();
    const port = doomed.port;
    const fronting = await gatewayFor(doomed.url);
    await doomed.close();
    const key = newKey();
    const down = await send(fronting.url, { headers: { "idempotency-key": key }, body: "order" });
    expect(down.status).toBe(502);
    expect(down.headers.get("content-type")).toBe("application/problem+json");
    expect(down.headers.get("retry-after")).toBe("1");
    expect(down.json()).toMatchObject({
      type: "https://oncely.dev/problems/upstream-unreachable",
      status: 502,
    });
    expect((await send(fronting.url, { method: "GET" })).status).toBe(502);

    const back = await startUpstream(port);
    try {
      const retry = await send(fronting.url, { headers: { "idempotency-key": key }, body: "order" });
      expect(retry.status).toBe(201);
      expect(retry.headers.get("x-idempotency-replayed")).toBeNull();
      expect(back.count()).toBe(1);
      const replay = await send(fronting.url, { headers: { "idempotency-key": key }, body: "order" });
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      expect(back.count()).toBe(1);
    } finally {
      await back.close();
    }
  });

  it("answers 504 problem+json when the upstream stays silent past --upstream-timeout, and releases the key", async () => {
    const impatient = await gatewayFor(upstream.url, "--upstream-timeout", "400ms");
    const key = newKey();
    const slow = await send(impatient.url, { headers: { "idempotency-key": key, "x-delay": "1500" } });
    expect(slow.status).toBe(504);
    expect(slow.json()).toMatchObject({ type: "https://oncely.dev/problems/upstream-timeout", status: 504 });
    const retry = await send(impatient.url, { headers: { "idempotency-key": key } });
    expect(retry.status).toBe(201);
    expect(retry.headers.get("x-idempotency-replayed")).toBeNull();
  });

  it("cuts the client off when the upstream response breaks half-way, and releases the key", async () => {
    const key = newKey();
    const broken = await send(gateway.url, { headers: { "idempotency-key": key, "x-break": "1" } }).catch(
      (error: Error) => error.name,
    );
    expect(broken).toBe("TypeError");
    const before = upstream.count();
    const retry = await send(gateway.url, { headers: { "idempotency-key": key } });
    expect(retry.status).toBe(201);
    expect(upstream.count()).toBe(before + 1);
  });
});
