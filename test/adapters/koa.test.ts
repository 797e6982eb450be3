import { Readable } from "node:stream";
import Koa from "koa";
import { describe, expect, it } from "vitest";
import { idempotency } from "../../src/adapters/koa/index.js";
import { createStore } from "../../src/index.js";
import { describeAdapter } from "../conformance/adapter-behaviour.js";
import { listen, newKey, readBody, send } from "../helpers/http.js";

describeAdapter(
  "Koa",
  (options, app) => {
    const koa = new Koa();
    koa.silent = true;
    koa.use(idempotency(options));
    koa.use(async (ctx) => {
      const body = await readBody(ctx.req);
      const answer = await app.handle({ method: ctx.method, path: ctx.url, body });
      ctx.status = answer.status;
      for (const [name, value] of answer.headers) ctx.append(name, value);
      ctx.body = answer.body instanceof Uint8Array ? Buffer.from(answer.body) : Readable.from(answer.body);
    });
    return listen(koa.callback());
  },
  { destroysStreamsOnAbort: true },
);

describe("Koa adapter extras", () => {
  it("releases the key when a later middleware throws, whatever status Koa answers with", async () => {
    const store = await createStore("memory:");
    const koa = new Koa();
    koa.silent = true;
    let executions = 0;
    koa.use(idempotency({ store }));
    koa.use((ctx) => {
      executions++;
      if (ctx.path === "/broken") ctx.throw(400, "no such order");
      ctx.status = 201;
      ctx.body = { id: executions };
    });
    const server = await listen(koa.callback());
    try {
      const key = newKey();
      const first = await send(`${server.url}/orders`, { headers: { "idempotency-key": key } });
      const replay = await send(`${server.url}/orders`, { headers: { "idempotency-key": key } });
      expect(first.json()).toEqual({ id: 1 });
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      const broken = { headers: { "idempotency-key": newKey() } };
      expect((await send(`${server.url}/broken`, broken)).status).toBe(400);
      const retried = await send(`${server.url}/broken`, broken);
      expect([retried.status, retried.headers.get("x-idempotency-replayed")]).toEqual([400, null]);
      expect(executions).toBe(3);
    } finally {
      await server.close();
      await store.close();
    }
  });
});
