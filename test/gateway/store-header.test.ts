// The upstream says "do not keep this answer" with X-Idempotency-Store: no; the real
// `oncely serve` process obeys, releases the key, and never passes the header on.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countingHandler, listen, newKey, send, type TestServer } from "../helpers/http.js";
import { type GatewayProcess, startGateway } from "./helpers.js";

let upstream: TestServer;
let executions: () => number;
let gateway: GatewayProcess;
let renamed: GatewayProcess;

beforeAll(async () => {
  // Answers 400 marked with the header named by the request's x-mark (when present).
  const counter = countingHandler((req, res) => {
    const mark = req.headers["x-mark"];
    if (typeof mark === "string") res.setHeader(mark, "no");
    res.writeHead(400, { "content-type": "application/problem+json" });
    res.end('{"title":"bad input"}');
  });
  upstream = await listen(counter.handler);
  executions = counter.count;
  const common = ["--upstream", upstream.url, "--store", "memory:", "--log-level", "warn"];
  [gateway, renamed] = await Promise.all([
    startGateway(common),
    startGateway([...common, "--store-header", "X-Keep"]),
  ]);
}, 30_000);

afterAll(async () => {
  await Promise.all([gateway, renamed].map((process) => process?.stop("SIGKILL")));
  await upstream?.close();
});

describe("the upstream's X-Idempotency-Store: no", () => {
  it("passes the answer on without the header, stores nothing and releases the key", async () => {
    const headers = { "idempotency-key": newKey(), "x-mark": "X-Idempotency-Store" };
    const before = executions();
    for (let i = 0; i < 2; i++) {
      const reply = await send(`${gateway.url}/orders`, { headers, body: "{}" });
      expect([reply.status, reply.text]).toEqual([400, '{"title":"bad input"}']);
      expect(reply.headers.get("x-idempotency-store")).toBeNull();
      expect(reply.headers.get("x-idempotency-replayed")).toBeNull();
    }
    expect(executions() - before).toBe(2);

    // Unmarked, the same 400 is kept and replayed.
    const unmarked = { "idempotency-key": newKey() };
    await send(`${gateway.url}/orders`, { headers: unmarked, body: "{}" });
    const replay = await send(`${gateway.url}/orders`, { headers: unmarked, body: "{}" });
    expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
  });

  it("strips the header from answers to requests the engine does not guard", async () => {
    const get = await send(`${gateway.url}/orders`, {
      method: "GET",
      headers: { "x-mark": "X-Idempotency-Store" },
    });
    expect(get.status).toBe(400);
    expect(get.headers.get("x-idempotency-store")).toBeNull();
    const keyless = await send(`${gateway.url}/orders`, { headers: { "x-mark": "X-Idempotency-Store" } });
    expect(keyless.headers.get("x-idempotency-store")).toBeNull();
  });

  it("follows --store-header", async () => {
    const headers = { "idempotency-key": newKey(), "x-mark": "X-Keep" };
    const before = executions();
    for (let i = 0; i < 2; i++) {
      const reply = await send(`${renamed.url}/orders`, { headers, body: "{}" });
      expect(reply.headers.get("x-keep")).toBeNull();
    }
    expect(executions() - before).toBe(2);
  });
});
