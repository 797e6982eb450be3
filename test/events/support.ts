// Helpers shared by the oncely/events tests.
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { listen, type TestServer } from "../helpers/http.js";

/** A scope no other test uses, so tests can share one store (or one Redis/PostgreSQL server). */
export function freshScope(): string {
  return `test-${randomUUID()}`;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A promise with its resolve function, for handlers a test holds open. */
export function gate(): { promise: Promise<void>; open(): void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/**
 * Serves a fetch-style handler on a real loopback port, the way fetch runtimes (and
 * @hono/node-server) do on Node: each request becomes a web `Request` whose body streams
 * from the socket. A handler that throws is answered 500, as such runtimes do.
 */
export function serveFetch(handler: (request: Request) => Promise<Response>): Promise<TestServer> {
  return listen(async (req, res) => {
    const headers = new Headers();
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      headers.append(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string);
    }
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const request = new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method ?? "GET",
      headers,
      ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: "half" } : {}),
    });
    let response: Response;
    try {
      response = await handler(request);
    } catch {
      response = new Response("handler failed", { status: 500 });
    }
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  });
}
