/**
 * Small translations of the behaviour app's answers that several adapters' tests share:
 * to a Node response, to a fetch `Response`, and serving a fetch handler on loopback.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { drainedOrClosed } from "../../src/http/node/send.js";
import { listen, readBody, type TestServer } from "../helpers/http.js";
import type { AppRequest, AppResponse, BehaviourApp } from "./behaviour-app.js";

/** Writes an answer to a Node response: a whole body with its length, a stream piece by piece. */
export async function writeAnswer(res: ServerResponse, answer: AppResponse): Promise<void> {
  res.statusCode = answer.status;
  for (const [name, value] of answer.headers) res.appendHeader(name, value);
  if (answer.body instanceof Uint8Array) {
    res.setHeader("content-length", answer.body.length);
    res.end(answer.body);
    return;
  }
  // Written on after the client left, as a handler that does not watch for it would.
  for await (const chunk of answer.body) {
    if (!res.write(chunk) && !res.destroyed) await drainedOrClosed(res);
  }
  res.end();
}

/** Runs the app on a Node request whose body nothing has read yet. */
export async function handleNode(app: BehaviourApp, req: IncomingMessage, res: ServerResponse) {
  const request = { method: req.method ?? "GET", path: req.url ?? "/", body: await readBody(req) };
  await writeAnswer(res, await app.handle(request));
}

/** An answer as a fetch `Response`. */
export function toResponse(answer: AppResponse): Response {
  const headers = new Headers();
  for (const [name, value] of answer.headers) headers.append(name, value);
  const body = answer.body instanceof Uint8Array ? answer.body : streamOf(answer.body);
  return new Response(body, { status: answer.status, headers });
}

/** What the app reads of a fetch `Request`. */
export async function appRequest(request: Request): Promise<AppRequest> {
  const url = new URL(request.url);
  const body = new Uint8Array(await request.arrayBuffer());
  return { method: request.method, path: url.pathname + url.search, body };
}

/** Serves a fetch handler on loopback through @hono/node-server. */
export function serveFetch(fetch: (request: Request) => Response | Promise<Response>): Promise<TestServer> {
  return listen(getRequestListener(fetch));
}

function streamOf(chunks: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const iterator = chunks[Symbol.asyncIterator]();
  return new ReadableStream({
    async pull(controller) {
      const { done, value } = await iterator.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
  });
}
