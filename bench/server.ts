// One benchmark target in its own process: an Express app whose POST /orders handler does
// what a typical write endpoint does (parse JSON, a ~2 ms database call, answer 201 JSON),
// bare or behind oncely. argv: variant (bare | least-layer | least-layer:<store URL> | memory |
// sqlite:PATH | any store URL | pool=<n>:<postgres URL>, a PostgreSQL store with n connections); least-layer is the yardstick of bench/least-layer.ts, on a Map
// or on the store the URL names (bench/least-stores.ts). A store variant ending in
// "+encrypted" encrypts its records at rest, under one fixed key that every server shares.
// Prints "listening <port>".

import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import express from "express";
import { installLeastLayer } from "./least-layer.js";
import { storeRecords } from "./least-stores.js";

// The compiled package, as users run it: a source transform (tsx) adds per-call helpers
// that would be measured as oncely's cost. `npm run bench` builds first.
const dist = "../dist/";
const { idempotency } = (await import(
  `${dist}adapters/express/index.js`
)) as typeof import("../src/adapters/express/index.js");
const { createStore } = (await import(`${dist}index.js`)) as typeof import("../src/index.js");

const variant = process.argv[2] ?? "bare";
const app = express();
app.disable("x-powered-by");
if (variant === "least-layer") {
  installLeastLayer(app);
} else if (variant.startsWith("least-layer:")) {
  installLeastLayer(app, await storeRecords(variant.slice("least-layer:".length)));
} else if (variant.startsWith("pool=")) {
  const { createPostgresStore } = (await import(
    `${dist}stores/postgres/index.js`
  )) as typeof import("../src/stores/postgres/index.js");
  const [size, ...url] = variant.slice("pool=".length).split(":");
  app.use(
    idempotency({ store: await createPostgresStore({ url: url.join(":"), maxConnections: Number(size) }) }),
  );
} else if (variant !== "bare") {
  const url = variant.replace(/\+encrypted$/, "");
  // One key for all servers: two servers on one SQLite file must read each other's records.
  const key = createHash("sha256").update("oncely bench key").digest();
  const encryption = url === variant ? {} : { encryption: { keys: [{ id: "bench", key }] } };
  const store = await createStore(url === "memory" ? "memory:" : url, encryption);
  app.use(idempotency({ store }));
}
app.use(express.json());
let orders = 0;
app.post("/orders", async (req, res) => {
  await sleep(2); // the database write the key protects
  orders++;
  res.status(201).json({ id: orders, sku: (req.body as { sku?: string }).sku, status: "created" });
});
const server = app.listen(0, "127.0.0.1", () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
