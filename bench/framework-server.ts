// One target of `npm run bench:frameworks` in its own process: POST /orders in one
// framework (parse the JSON body, a ~2 ms database call, answer 201 JSON, as in
// bench/server.ts), bare or behind oncely's adapter for it on the memory store.
// argv: framework (node | express | fetch | hono | fastify | koa | nestjs), variant (bare | oncely).
// Prints "listening <port>".
import "reflect-metadata";
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

// The compiled package, as users run it (see bench/server.ts).
const dist = "../dist/";
const load = <T>(path: string): Promise<T> => import(`${dist}${path}`) as Promise<T>;
const { createStore } = await load<typeof import("../src/index.js")>("index.js");

const [framework = "node", variant = "bare"] = process.argv.slice(2);
const options = variant === "oncely" ? { store: await createStore("memory:") } : undefined;
let orders = 0;

/** The endpoint's work, the same in every framework. */
async function order(body: unknown): Promise<object> {
  await sleep(2); // the database write the key protects
  orders++;
  return { id: orders, sku: (body as { sku?: string }).sku, status: "created" };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

async function nodeListener(): Promise<RequestListener> {
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const body = JSON.stringify(await order(await readJson(req)));
    res.writeHead(201, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  };
  if (!options) return handler;
  const { withIdempotency } =
    await load<typeof import("../src/adapters/node/index.js")>("adapters/node/index.js");
  return withIdempotency(handler, options);
}

async function expressListener(): Promise<RequestListener> {
  const { default: express } = await import("express");
  const app = express();
  app.disable("x-powered-by");
  if (options) {
    const { idempotency } =
      await load<typeof import("../src/adapters/express/index.js")>("adapters/express/index.js");
    app.use(idempotency(options));
  }
  app.use(express.json());
  app.post("/orders", async (req, res) => {
    res.status(201).json(await order(req.body));
  });
  return app;
}

async function fetchListener(): Promise<RequestListener> {
  const { getRequestListener } = await import("@hono/node-server");
  const handler = async (request: Request) =>
    Response.json(await order(await request.json()), { status: 201 });
  if (!options) return getRequestListener(handler);
  const { withIdempotency } =
    await load<typeof import("../src/adapters/fetch/index.js")>("adapters/fetch/index.js");
  return getRequestListener(withIdempotency(handler, options));
}

async function honoListener(): Promise<RequestListener> {
  const { getRequestListener } = await import("@hono/node-server");
  const { Hono } = await import("hono");
  const app = new Hono();
  if (options) {
    const { idempotency } =
      await load<typeof import("../src/adapters/hono/index.js")>("adapters/hono/index.js");
    app.use(idempotency(options));
  }
  app.post("/orders", async (c) => c.json(await order(await c.req.json()), 201));
  return getRequestListener(app.fetch);
}

async function koaListener(): Promise<RequestListener> {
  const { default: Koa } = await import("koa");
  const app = new Koa();
  if (options) {
    const { idempotency } =
      await load<typeof import("../src/adapters/koa/index.js")>("adapters/koa/index.js");
    app.use(idempotency(options));
  }
  app.use(async (ctx) => {
    ctx.status = 201;
    ctx.body = await order(await readJson(ctx.req));
  });
  return app.callback();
}

async function listenFastify(): Promise<number> {
  const { default: Fastify } = await import("fastify");
  const app = Fastify();
  if (options) {
    const { idempotency } =
      await load<typeof import("../src/adapters/fastify/index.js")>("adapters/fastify/index.js");
    await app.register(idempotency, options);
  }
  app.post("/orders", async (request, reply) => reply.code(201).send(await order(request.body)));
  await app.listen({ port: 0, host: "127.0.0.1" });
  return (app.server.address() as AddressInfo).port;
}

async function listenNest(): Promise<number> {
  const { Body, Controller, Module, Post } = await import("@nestjs/common");
  const { NestFactory, APP_INTERCEPTOR } = await import("@nestjs/core");
  class OrdersController {
    create(body: unknown) {
      return order(body);
    }
  }
  const descriptor = Object.getOwnPropertyDescriptor(OrdersController.prototype, "create");
  Post()(OrdersController.prototype, "create", descriptor as PropertyDescriptor);
  Body()(OrdersController.prototype, "create", 0);
  Controller("orders")(OrdersController);
  const providers: Array<{ provide: string; useValue: unknown }> = [];
  if (options) {
    const { IdempotencyInterceptor } =
      await load<typeof import("../src/adapters/nestjs/index.js")>("adapters/nestjs/index.js");
    providers.push({ provide: APP_INTERCEPTOR, useValue: new IdempotencyInterceptor(options) });
  }
  class AppModule {}
  Module({ controllers: [OrdersController], providers })(AppModule);
  const app = await NestFactory.create(AppModule, { logger: false, rawBody: true });
  await app.listen(0, "127.0.0.1");
  return (app.getHttpServer().address() as AddressInfo).port;
}

const listeners: Record<string, () => Promise<RequestListener>> = {
  node: nodeListener,
  express: expressListener,
  fetch: fetchListener,
  hono: honoListener,
  koa: koaListener,
};

let port: number;
if (framework === "fastify") port = await listenFastify();
else if (framework === "nestjs") port = await listenNest();
else {
  const listener = listeners[framework];
  if (!listener) throw new Error(`unknown framework ${framework}`);
  const server = createServer(await listener());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
}
process.stdout.write(`listening ${port}\n`);
