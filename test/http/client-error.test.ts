// Requests Node's HTTP parser refuses (a control character in the key header, headers over
// the size limit) get problem+json from the gateway and from servers that install
// respondToClientError, instead of Node's bare status line. Raw sockets: Node's own client
// refuses to send such requests.
import { once } from "node:events";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { respondToClientError, withIdempotency } from "../../src/adapters/node/index.js";
import { createGateway, type Gateway } from "../../src/gateway/index.js";
import { createStore } from "../../src/index.js";
import { listen, type TestServer } from "../helpers/http.js";

/** Sends raw bytes and reads until the server closes the connection. */
async function exchange(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.on("error", () => {});
  await once(socket, "connect");
  socket.write(request);
  await once(socket, "close");
  return Buffer.concat(chunks).toString("latin1");
}

function parse(raw: string): { status: number; headers: Map<string, string>; body: string } {
  const [head = "", body = ""] = raw.split("\r\n\r\n", 2);
  const [statusLine = "", ...lines] = head.split("\r\n");
  const headers = new Map(
    lines.map((line) => [
      line.slice(0, line.indexOf(":")).toLowerCase(),
      line.slice(line.indexOf(":") + 1).trim(),
    ]),
  );
  return { status: Number(statusLine.split(" ")[1]), headers, body };
}

const controlInKey =
  "POST /orders HTTP/1.1\r\nHost: x\r\nIdempotency-Key: abc\x01def\r\nContent-Length: 0\r\n\r\n";
const hugeHeader = `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`;

let gateway: Gateway;
let gatewayUrl: string;
let upstream: TestServer;
let own: TestServer;
let bare: TestServer;

beforeAll(async () => {
  upstream = await listen((_req, res) => res.end("upstream"));
  gateway = createGateway({ upstream: upstream.url, store: await createStore("memory:") });
  gatewayUrl = `http://127.0.0.1:${(await gateway.listen(0, "127.0.0.1")).port}`;
  const handler = withIdempotency((_req, res) => void res.end("ok"), { store: await createStore("memory:") });
  const server = http.createServer(handler).on("clientError", respondToClientError);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  own = {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  bare = await listen(handler);
});

afterAll(async () => {
  await gateway?.close(0);
  await Promise.all([upstream, own, bare].map((server) => server?.close()));
});

describe.each([
  ["the gateway", () => gatewayUrl],
  ["a server with respondToClientError", () => own.url],
])("a request Node's parser refuses, sent to %s", (_name, url) => {
  it("gets a 400 malformed-request problem for a control character in the key header", async () => {
    const reply = parse(await exchange(url(), controlInKey));
    expect(reply.status).toBe(400);
    expect(reply.headers.get("content-type")).toBe("application/problem+json");
    expect(reply.headers.get("connection")).toBe("close");
    expect(Number(reply.headers.get("content-length"))).toBe(Buffer.byteLength(reply.body));
    expect(JSON.parse(reply.body)).toMatchObject({
      type: "https://oncely.dev/problems/malformed-request",
      status: 400,
    });
  });

  it("gets a 431 request-header-too-large problem for headers over the limit", async () => {
    const reply = parse(await exchange(url(), hugeHeader));
    expect(reply.status).toBe(431);
    expect(JSON.parse(reply.body)).toMatchObject({
      type: "https://oncely.dev/problems/request-header-too-large",
      status: 431,
    });
  });
});

it("is what Node answers bare without it: a status line and no body", async () => {
  const reply = parse(await exchange(bare.url, controlInKey));
  expect([reply.status, reply.body]).toEqual([400, ""]);
});

it("the gateway answers a 500 internal-error problem when a user callback throws", async () => {
  const failing = createGateway({
    upstream: upstream.url,
    store: await createStore("memory:"),
    scope: () => {
      throw new Error("tenant lookup failed");
    },
  });
  const { port } = await failing.listen(0, "127.0.0.1");
  try {
    const reply = await fetch(`http://127.0.0.1:${port}/orders`, {
      method: "POST",
      headers: { "idempotency-key": "k-500" },
      body: "{}",
    });
    expect(reply.status).toBe(500);
    expect(reply.headers.get("content-type")).toBe("application/problem+json");
    expect(await reply.json()).toMatchObject({
      type: "https://oncely.dev/problems/internal-error",
      status: 500,
    });
  } finally {
    await failing.close(0);
  }
});
