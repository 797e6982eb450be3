// The target of bench/waiters.ts in its own process: Express behind oncely with a long
// `wait`, whose POST /orders handler answers only once the benchmark calls GET /go, so that
// duplicates of one key wait for it as long as the benchmark wants; GET /arrivals tells how
// many requests reached the app, GET /redis-commands how many commands the store sent to
// Redis. argv: a store URL (sqlite:PATH, redis://…, postgres://…) and `notify` or `poll`:
// whether waiting duplicates are woken by the store (`notifications`, on by default) or
// poll as stores without notifications do. Prints "listening <port>".

import { subscribe } from "node:diagnostics_channel";
import type { AddressInfo } from "node:net";
import express from "express";

// The compiled package, as users run it (see bench/server.ts).
const dist = "../dist/";
const { idempotency } = (await import(
  `${dist}adapters/express/index.js`
)) as typeof import("../src/adapters/express/index.js");
const { createStore } = (await import(`${dist}index.js`)) as typeof import("../src/index.js");
const { createPostgresStore } = (await import(
  `${dist}stores/postgres/index.js`
)) as typeof import("../src/stores/postgres/index.js");
const { createRedisStore } = (await import(
  `${dist}stores/redis/index.js`
)) as typeof import("../src/stores/redis/index.js");
type Store = Awaited<ReturnType<typeof createStore>>;

const [url = "", mode = "notify"] = process.argv.slice(2);
// ioredis (5.11 on) reports each command once, as it writes it; a script is one command
// (EVALSHA, or EVAL), whatever it runs inside Redis. Counted from before the store
// connects; nothing else here talks to Redis.
let redisCommands = 0;
subscribe("tracing:ioredis:command:start", () => {
  redisCommands++;
});
const notifications = mode === "notify";
let store: Store;
if (url.startsWith("postgres")) store = await createPostgresStore({ url, notifications });
else if (url.startsWith("redis")) store = await createRedisStore({ url, notifications });
// SQLite has no switch: waking is in-process. Without its waitForChange, the engine polls.
else store = notifications ? await createStore(url) : withoutWaits(await createStore(url));

const app = express();
app.disable("x-powered-by");
let arrivals = 0;
// The original and its duplicates: the benchmark's own polls of /arrivals must not count.
app.post("/orders", (_req, _res, next) => {
  arrivals++;
  next();
});
let go = gate();
app.get("/arrivals", (_req, res) => {
  res.json(arrivals);
});
app.get("/redis-commands", (_req, res) => {
  res.json(redisCommands);
});
app.get("/go", (_req, res) => {
  go.open();
  go = gate();
  res.end();
});
app.use(idempotency({ store, wait: 60_000 }));
let orders = 0;
app.post("/orders", async (_req, res) => {
  await go.promise;
  orders++;
  res.status(201).json({ id: orders, status: "created" });
});
// A backlog for a thousand connections opened at once (the default, 511, would make the
// kernel drop SYNs, which the clients resend only after a second).
const server = app.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});

/** `store` as a store without `waitForChange`, which the engine polls. */
function withoutWaits(inner: Store): Store {
  return new Proxy(inner, {
    get(target, property) {
      if (property === "waitForChange") return undefined;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** A promise that resolves when `open` is called (Node 20 has no `Promise.withResolvers`). */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
