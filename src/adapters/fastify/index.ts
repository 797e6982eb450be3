/**
 * `oncely/fastify`: idempotency for Fastify 5, as a plugin.
 *
 * Registered with `app.register(idempotency, options)`, it guards the routes of the scope
 * it is registered in and of that scope's children, and no other (encapsulation as with
 * any plugin). A route opts out with `config: { idempotency: false }`; with
 * `global: false`, only routes with `config: { idempotency: true }` are guarded. A keyed body
 * over `maxRequestBodyBytes` is not buffered: the content-type parsers read it hashed on the
 * way, up to `maxUploadBytes` (no cap by default).
 *
 * @example
 * import Fastify from "fastify";
 * import { createStore } from "oncely";
 * import { idempotency } from "oncely/fastify";
 *
 * const app = Fastify();
 * await app.register(idempotency, { store: await createStore("memory:") });
 * app.post("/orders", async (request, reply) => reply.code(201).send({ id: 1 }));
 * @module
 */
import type { Readable } from "node:stream";
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { createEngine, type IdempotencyEngine } from "../../core/engine.js";
import type { Execution } from "../../core/execution.js";
import type { IdempotencyOptions } from "../../core/options.js";
import { problem } from "../../core/problems.js";
import { headerLines, toIncomingRequest } from "../../http/node/request.js";
import { announcesTooMuch, type UploadFingerprint, uploadTooLarge } from "../../http/upload-fingerprint.js";
import {
  capturePayload,
  hashedPayload,
  payloadLength,
  payloadOf,
  readPayload,
  type SendPayload,
} from "./body.js";
import { sendAnswer } from "./send.js";

export type { IdempotencyOptions } from "../../core/options.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Guard this route (`true`) or not (`false`); unset follows the plugin's `global` option. */
    idempotency?: boolean;
  }
}

/** Options of the Fastify plugin: the engine's, plus which routes are guarded. */
export interface FastifyIdempotencyOptions extends IdempotencyOptions {
  /**
   * Guard every route of the scope (routes opt out with `config: { idempotency: false }`),
   * or, when false, only routes with `config: { idempotency: true }`.
   * @default true
   */
  global?: boolean;
}

/** Executions in progress, from the request's payload hook to its `onSend`. */
const executions = new WeakMap<FastifyRequest, Execution>();

const plugin: FastifyPluginCallback<FastifyIdempotencyOptions> = (fastify, options, done) => {
  const { global = true, ...engineOptions } = options;
  const engine = createEngine(engineOptions);
  const guarded = (request: FastifyRequest) =>
    (request.routeOptions.config.idempotency ?? global) && engine.guards(request.method);

  // Callback style: replying from here without calling `next` ends the request, with no
  // parsing and no handler.
  fastify.addHook("preParsing", (request, reply, payload, next) => {
    if (!guarded(request)) return next(null, payload);
    guard(engine, request, reply, payload).then((body) => {
      if (body !== undefined) next(null, body);
    }, next);
  });

  fastify.addHook("onSend", async (request, reply, payload: SendPayload) => {
    const execution = executions.get(request);
    if (!execution) return payload;
    executions.delete(request);
    const headers = headerPairs(reply.getHeaders());
    const plan = await execution.respond(
      reply.statusCode,
      headers,
      payloadLength(payload, reply.getHeader("content-length")),
    );
    // Meant for oncely, never for the client.
    reply.removeHeader(execution.storeHeader);
    if (plan === "pass") return payload;
    return capturePayload(execution, payload, () => reply.raw.destroyed && !reply.raw.writableEnded);
  });

  // Before the error handler answers: a handler that failed releases the key, whatever
  // status the error handler then chooses.
  fastify.addHook("onError", async (request) => {
    const execution = executions.get(request);
    executions.delete(request);
    await execution?.fail();
  });

  // A reply that never went through onSend (hijacked, or the client left before it) must
  // not pin the key until its lease lapses.
  fastify.addHook("onResponse", async (request) => {
    const execution = executions.get(request);
    executions.delete(request);
    await execution?.fail();
  });
  done();
};

/**
 * Runs the engine on a request: answers it (and resolves with undefined), or resolves with
 * the payload Fastify must parse, the buffered body when it was read.
 */
async function guard(
  engine: IdempotencyEngine,
  request: FastifyRequest,
  reply: FastifyReply,
  payload: Readable,
): Promise<Readable | undefined> {
  const name = engine.options.header;
  const lines = headerLines(request.raw, name);
  if (engine.passesForLackOfKey(lines)) return payload;
  let body: Buffer | undefined;
  let rest = payload;
  let upload: UploadFingerprint | undefined;
  const { options } = engine;
  if (engine.needsBody(request.method)) {
    const limit = options.maxRequestBodyBytes;
    // A body that announces its size too large is not read before the decision.
    const buffered = announcesTooMuch(request.headers["content-length"], limit)
      ? { head: [] }
      : await readPayload(payload, limit);
    if (Buffer.isBuffer(buffered)) {
      body = buffered;
      rest = payloadOf(body);
    } else if (!engine.streamsBody(request.method)) {
      const detail = `the request body exceeds ${limit} bytes`;
      await sendAnswer(reply, problem("request-too-large", detail, undefined, [], options.errorFormat));
      return undefined;
    } else if (announcesTooMuch(request.headers["content-length"], options.maxUploadBytes)) {
      await sendAnswer(reply, uploadTooLarge(options));
      return undefined;
    } else {
      const hasher = engine.bodyHasher(toIncomingRequest(request.raw, undefined));
      ({ stream: rest, upload } = hashedPayload(payload, buffered.head, hasher, options.maxUploadBytes));
    }
  }
  const incoming = toIncomingRequest(request.raw, body, { name, lines });
  const decision = await engine.begin(
    upload ? { ...incoming, bodyFingerprint: upload.fingerprint } : incoming,
  );
  switch (decision.action) {
    case "pass":
      return rest;
    case "respond":
      await sendAnswer(reply, decision.response);
      upload?.discardRest();
      return undefined;
    case "replay":
      await sendAnswer(reply, decision.replay, engine.options.storeBeforeSendBytes);
      return undefined;
    case "execute":
      executions.set(request, decision.execution);
      decision.execution.watchClient({
        get abandoned() {
          return reply.raw.destroyed && !reply.raw.writableEnded;
        },
      });
      return rest;
  }
}

function headerPairs(headers: Record<string, unknown>): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(headers)) {
    if (Array.isArray(value)) for (const item of value) pairs.push([name, String(item)]);
    else if (value !== undefined) pairs.push([name, String(value)]);
  }
  return pairs;
}

/**
 * The plugin. Wrapped with `fastify-plugin`, so its hooks apply to the scope it is
 * registered in (and that scope's children), not only inside a scope of its own.
 */
export const idempotency = fp(plugin, { fastify: "5.x", name: "oncely" });
export default idempotency;
