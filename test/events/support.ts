// Helpers shared by the oncely/events tests.
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import type { IdempotencyStore } from "../../src/store.js";
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
 * The real `store`, except that `method` rejects with `error`: a backend that goes away at
 * one step, for the paths that only a store failure reaches.
 */
export function failing(
  store: IdempotencyStore,
  method: keyof IdempotencyStore,
  error: Error,
): IdempotencyStore {
  return new Proxy(store, {
    get: (target, name) => {
      if (name === method) return () => Promise.reject(error);
      const value: unknown = Reflect.get(target, name, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
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
