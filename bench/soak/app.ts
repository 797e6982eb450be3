// A soak target's handler in its own process: the upstream behind `oncely serve`, or an
// Express app guarded by oncely. argv: `upstream`, or `express <storeUrl> <ttl>`.
// Prints "listening <port>". Over IPC it reports each execution ({ executed: key, bodyLost }) and
// answers { memory: true } with process.memoryUsage(), so the runner measures without
// reaching into oncely. Request headers steer the answer: `x-delay` (ms before answering),
// `x-chunks` (a streamed body of that many 16 KiB chunks, 20 ms apart). It always answers in
// full, also to a client that left: oncely stores that answer for the retry.
import { randomBytes } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import express from "express";
import { idempotency } from "../../src/adapters/express/index.js";
import { createStore } from "../../src/index.js";

const [mode, storeUrl, ttl] = process.argv.slice(2);
const send = process.send?.bind(process);
if (!send) throw new Error("bench/soak/app.ts runs as a child with an IPC channel");

process.on("message", (message: { memory?: boolean }) => {
  if (message.memory) send({ memory: process.memoryUsage() });
});
// The runner going away ends this process too (its IPC channel closes).
process.on("disconnect", () => process.exit(0));

/**
 * Executes one request: reports it (and whether its body was lost), then answers with bytes
 * no other execution produces.
 */
async function execute(req: IncomingMessage, res: ServerResponse, bodyLost: boolean): Promise<void> {
  send?.({ executed: req.headers["idempotency-key"] ?? "", bodyLost });
  const delay = Number(req.headers["x-delay"] ?? 0);
  if (delay > 0) await sleep(delay);
  const chunks = Number(req.headers["x-chunks"] ?? 0);
  res.statusCode = 201;
  if (chunks > 0) {
    res.setHeader("content-type", "application/octet-stream");
    for (let i = 0; i < chunks; i++) {
      res.write(randomBytes(16 * 1024));
      await sleep(20);
    }
    res.end();
    return;
  }
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ key: req.headers["idempotency-key"], nonce: randomBytes(8).toString("hex") }));
}

/**
 * Reads the request body as an application would, then executes. A request Node destroyed
 * before its body could be read (its client left) is executed all the same, flagged: that is
 * what an Express app does, whose body parser takes such a request for one already read.
 */
function handle(req: IncomingMessage, res: ServerResponse): void {
  if (req.destroyed) return void execute(req, res, !req.readableEnded);
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    void execute(req, res, !req.readableEnded);
  };
  req.once("end", finish);
  req.once("close", finish);
  req.resume();
}

let server: http.Server;
if (mode === "upstream") {
  server = http.createServer(handle);
} else if (mode === "express" && storeUrl && ttl) {
  const store = await createStore(storeUrl);
  const app = express();
  app.use("/orders", idempotency({ store, ttl: Number(ttl) }));
  // The same store with `wait`: a duplicate waits for the original's replay instead of 409.
  app.use("/waiting", idempotency({ store, ttl: Number(ttl), wait: 10_000 }));
  app.post(["/orders", "/waiting"], (req, res) => handle(req, res));
  server = http.createServer(app);
} else {
  throw new Error("usage: app.ts upstream | app.ts express <storeUrl> <ttlMs>");
}
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
