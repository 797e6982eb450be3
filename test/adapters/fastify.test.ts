import { Readable } from "node:stream";
import Fastify, { type FastifyInstance } from "fastify";
import { describe, expect, it } from "vitest";
import { idempotency } from "../../src/adapters/fastify/index.js";
import { createStore } from "../../src/index.js";
import { describeAdapter } from "../conformance/adapter-behaviour.js";
import type { BehaviourApp } from "../conformance/behaviour-app.js";
import { newKey, send, type TestServer } from "../helpers/http.js";

describeAdapter("Fastify", async (options, app) => {
  const fastify = Fastify({ forceCloseConnections: true });
  await fastify.register(idempotency, options);
  routeTo(fastify, app);
  return listen(fastify);
});

/** Every method and path to the behaviour app, bodies as raw bytes, answers through reply.send. */
function routeTo(fastify: FastifyInstance, app: BehaviourApp): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
  fastify.all("/*", async (request, reply) => {
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const answer = await app.handle({ method: request.method, path: request.url, body });
    reply.code(answer.status);
    for (const [name, value] of answer.headers) reply.header(name, value);
    return reply.send(
      answer.body instanceof Uint8Array ? Buffer.from(answer.body) : Readable.from(answer.body),
    );
  });
}

async function listen(fastify: FastifyInstance): Promise<TestServer> {
  const url = await fastify.listen({ port: 0, host: "127.0.0.1" });
  return { url, port: Number(new URL(url).port), close: () => fastify.close() };
}

describe("Fastify adapter extras", () => {
  it("guards only its own scope, follows route config, and releases the key of a handler that throws", async () => {
    const store = await createStore("memory:");
    const fastify = Fastify({ forceCloseConnections: true });
    let executions = 0;
    const count = () => ({ count: ++executions });
    await fastify.register(async (scope) => {
      await scope.register(idempotency, { store });
      scope.post("/guarded", async () => count());
      scope.post("/json", async (request) => ({ ...count(), got: request.body }));
      scope.post("/opted-out", { config: { idempotency: false } }, async () => count());
      scope.post("/broken", async () => {
        count();
        throw Object.assign(new Error("no such order"), { statusCode: 400 });
      });
    });
    await fastify.register(async (scope) => {
      await scope.register(idempotency, { store, global: false });
      scope.post("/opt-in/guarded", { config: { idempotency: true } }, async () => count());
      scope.post("/opt-in/open", async () => count());
    });
    fastify.post("/outside", async () => count());
    const server = await listen(fastify);
    try {
      const twice = async (path: string) => {
        const key = newKey();
        const first = await send(`${server.url}${path}`, { headers: { "idempotency-key": key } });
        const second = await send(`${server.url}${path}`, { headers: { "idempotency-key": key } });
        return [first.status, second.headers.get("x-idempotency-replayed"), second.text === first.text];
      };
      expect(await twice("/guarded")).toEqual([200, "true", true]);
      expect(await twice("/opt-in/guarded")).toEqual([200, "true", true]);
      expect(await twice("/opted-out")).toEqual([200, null, false]);
      expect(await twice("/opt-in/open")).toEqual([200, null, false]);
      expect(await twice("/outside")).toEqual([200, null, false]);
      // The error handler answers 400, a stored status; the thrown error still releases the key.
      expect(await twice("/broken")).toEqual([400, null, true]);
      // Fastify's own JSON parser reads the body oncely buffered for the fingerprint.
      const key = newKey();
      const json = { headers: { "idempotency-key": key, "content-type": "application/json" } };
      const parsed = await send(`${server.url}/json`, { ...json, body: '{"sku":"A1"}' });
      expect(parsed.json()).toEqual({ count: executions, got: { sku: "A1" } });
      expect((await send(`${server.url}/json`, { ...json, body: '{"sku":"B2"}' })).status).toBe(422);
      expect(executions).toBe(3 + 2 * 4);
    } finally {
      await server.close();
      await store.close();
    }
  });
});
