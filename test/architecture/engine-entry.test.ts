import { existsSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { expect, it } from "vitest";
import { createEngine, type IncomingRequest } from "../../src/engine.js";
import { createStore } from "../../src/index.js";
import { listen, newKey, readBody, send } from "../helpers/http.js";

/**
 * An adapter written the way a third party would, against `oncely/engine` alone: it
 * proves the entry carries all an adapter needs (begin, the decisions, the execution).
 */
function tinyAdapter(
  engine: ReturnType<typeof createEngine>,
  handler: () => { status: number; body: string },
) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const request: IncomingRequest = {
      method: req.method ?? "GET",
      path: req.url ?? "/",
      header: (name) => (typeof req.headers[name] === "string" ? [req.headers[name]] : []),
      body,
    };
    const decision = await engine.begin(request);
    if (decision.action === "respond") {
      res.writeHead(decision.response.status, Object.fromEntries(decision.response.headers));
      res.end(decision.response.body);
    } else if (decision.action === "replay") {
      res.writeHead(decision.replay.status, Object.fromEntries(decision.replay.headers));
      for await (const chunk of decision.replay.body) res.write(chunk);
      res.end();
    } else {
      const answer = handler();
      const bytes = Buffer.from(answer.body);
      if (decision.action === "execute") {
        const plan = await decision.execution.respond(answer.status, [], bytes.length);
        if (plan !== "pass") decision.execution.write(bytes);
        await decision.execution.finish();
      }
      res.writeHead(answer.status).end(bytes);
    }
  };
}

it("oncely/engine is enough to write an adapter: executes once, replays, refuses a reused key", async () => {
  const store = await createStore("memory:");
  let runs = 0;
  const server = await listen(
    tinyAdapter(createEngine({ store }), () => ({ status: 201, body: `order ${++runs}` })),
  );
  try {
    const key = newKey();
    const first = await send(server.url, { headers: { "idempotency-key": key }, body: "a" });
    const replay = await send(server.url, { headers: { "idempotency-key": key }, body: "a" });
    const reused = await send(server.url, { headers: { "idempotency-key": key }, body: "b" });
    expect([first.status, first.text]).toEqual([201, "order 1"]);
    expect([replay.status, replay.text, replay.headers.get("x-idempotency-replayed")]).toEqual([
      201,
      "order 1",
      "true",
    ]);
    expect(reused.status).toBe(422);
    expect(runs).toBe(1);
  } finally {
    await server.close();
    await store.close();
  }
});

it("package.json exports oncely/engine, and every subpath from a source entry that exists", () => {
  const { exports } = JSON.parse(readFileSync("package.json", "utf8")) as {
    exports: Record<string, string | { default: string }>;
  };
  expect(exports["./engine"]).toEqual({ types: "./dist/engine.d.ts", default: "./dist/engine.js" });
  const missing = Object.values(exports)
    .map((target) => (typeof target === "string" ? target : target.default))
    .filter((target) => target.startsWith("./dist/"))
    .map((target) => target.replace("./dist/", "src/").replace(/\.js$/, ".ts"))
    .filter((source) => !existsSync(source));
  expect(missing).toEqual([]);
});
