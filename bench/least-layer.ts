// A yardstick for `npm run bench:cpu`, not a product: about the least any idempotency layer
// must do for a new key in Express, written by hand for this benchmark's happy path only.
// It reads the key, hashes method, path and body (inside the JSON parser, which then needs
// no second read), claims the key in a Map, and on `end` keeps status, headers and body as
// one buffer. It skips everything oncely adds to be correct: no fingerprint check, no key
// validation, no scope, no leases or fencing, no header rules, no streaming, no hooks, no
// expiry. How far it sits above bare Express shows what part of oncely's cost any layer pays.
import { hash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import express, { type Express } from "express";

type KeyedRequest = IncomingMessage & { leastLayerKey?: string; leastLayerFingerprint?: string };

/** Installs the yardstick layer (and the JSON parser) on `app`. */
export function installLeastLayer(app: Express): void {
  const records = new Map<string, 0 | Buffer>();
  // On the shared prototype, as oncely does: a property added to each Express response costs more.
  const originalEnd = express.response.end;
  Object.defineProperty(express.response, "end", {
    configurable: true,
    writable: true,
    value: function end(this: ServerResponse, chunk: string | Buffer, encoding: BufferEncoding) {
      const key = (this.req as KeyedRequest).leastLayerKey;
      if (key !== undefined) {
        let head = `${this.statusCode}\n`;
        for (const name of this.getHeaderNames()) head += `${name}: ${String(this.getHeader(name))}\n`;
        const body = typeof chunk === "string" ? Buffer.from(chunk, encoding) : chunk;
        records.set(key, Buffer.concat([Buffer.from(head), body]));
      }
      return originalEnd.call(this, chunk, encoding);
    },
  });
  app.use(
    express.json({
      verify: (req: KeyedRequest, _res, buf) => {
        req.leastLayerFingerprint = hash(
          "sha256",
          Buffer.concat([Buffer.from(`${req.method}${req.url}`), buf]),
        );
      },
    }),
  );
  app.use((req: KeyedRequest, res, next) => {
    const key = req.headers["idempotency-key"];
    if (typeof key !== "string") return next();
    const found = records.get(key);
    if (found === 0) {
      res.statusCode = 409; // still in flight
      res.end();
      return;
    }
    if (found !== undefined) {
      res.end(found);
      return;
    }
    records.set(key, 0);
    req.leastLayerKey = key;
    next();
  });
}
