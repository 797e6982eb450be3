import { randomUUID } from "node:crypto";
import { once } from "node:events";
import http, { type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A server listening on a loopback port; `close()` ends it and its open connections. */
export interface TestServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts `listener` on 127.0.0.1 with an ephemeral port. */
export async function listen(listener: RequestListener): Promise<TestServer> {
  const server = http.createServer(listener);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback port that was free a moment ago, for a child process that must be told its port. */
export async function freePort(): Promise<number> {
  const server = http.createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A response as the tests inspect it: status, headers and exact body bytes. */
export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
  readonly text: string;
  json(): unknown;
}

/** Sends one request with `fetch` over loopback and reads the whole body. */
export async function send(
  url: string,
  init: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Uint8Array;
    signal?: AbortSignal;
  } = {},
): Promise<Reply> {
  const response = await fetch(url, {
    method: init.method ?? "POST",
    headers: init.headers ?? {},
    ...(init.body === undefined ? {} : { body: init.body }),
    ...(init.signal ? { signal: init.signal } : {}),
  });
  const body = Buffer.from(await response.arrayBuffer());
  return {
    status: response.status,
    headers: response.headers,
    body,
    text: body.toString("utf8"),
    json: () => JSON.parse(body.toString("utf8")),
  };
}

/** A fresh random idempotency key, so tests sharing one store never collide. */
export function newKey(): string {
  return `k-${randomUUID()}`;
}

/** Reads a request body to a Buffer. */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A handler that counts its executions and echoes what it received. */
export function countingHandler(
  respond: (
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    count: number,
  ) => void | Promise<void> = (req, res, body, count) => {
    res.statusCode = 201;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ count, method: req.method, url: req.url, body: body.toString("utf8") }));
  },
): { handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>; count(): number } {
  let executions = 0;
  return {
    handler: async (req, res) => {
      executions++;
      let body: Buffer;
      try {
        body = await readBody(req);
      } catch {
        // The client (a gateway whose own client left) went away half-way through the body.
        res.destroy();
        return;
      }
      await respond(req, res, body, executions);
    },
    count: () => executions,
  };
}

/** A counting handler behind `withIdempotency`, served on loopback. */
export interface GuardedServer extends TestServer {
  count(): number;
}
