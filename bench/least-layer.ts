// A yardstick for the benchmarks, not a product: about the least any idempotency layer
// must do for a new key in Express, written by hand for this benchmark's happy path only.
// It reads the key, hashes method, path and body (inside the JSON parser, which then needs
// no second read), claims the key, and on `end` keeps status, headers and body as one
// buffer. It skips everything oncely adds to be correct: no fingerprint check, no key
// validation, no scope, no leases or fencing, no header rules, no streaming, no hooks, no
// expiry. How far it sits above bare Express shows what part of oncely's cost any layer pays.
//
// Where the records live is a `LeastRecords`: a Map here, and in bench/least-stores.ts the
// fewest statements each durable store needs (one claim that returns a stored answer, one
// completion), so each store's figures read as a distance to that store's own limit.
import { hash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import express, { type Express, type RequestHandler } from "express";

/** What a claim finds: nothing (the caller now owns the key), 0 (in flight), or the stored answer. */
export type LeastClaim = undefined | 0 | Buffer;

/** Where the least layer keeps its records. */
export interface LeastRecords {
  claim(key: string): LeastClaim | Promise<LeastClaim>;
  complete(key: string, answer: Buffer): void | Promise<void>;
}

/** Records in a Map: the least layer of the memory store. */
export function mapRecords(): LeastRecords {
  const records = new Map<string, 0 | Buffer>();
  return {
    claim: (key) => {
      const found = records.get(key);
      if (found === undefined) records.set(key, 0);
      return found;
    },
    complete: (key, answer) => {
      records.set(key, answer);
    },
  };
}

type KeyedRequest = IncomingMessage & { leastLayerKey?: string; leastLayerFingerprint?: string };

/**
 * The yardstick layer's handlers, the JSON parser included, for an app or a route of any
 * Express 5 app (the comparison of bench/peers runs its own copy of Express).
 */
export function leastLayer(records: LeastRecords = mapRecords()): RequestHandler[] {
  const patched = new WeakSet<object>();
  // On the shared prototype, as oncely does: a property added to each Express response
  // costs more. The prototype is the app's, which the first request shows.
  const patchEnd = (prototype: ServerResponse) => {
    patched.add(prototype);
    const originalEnd = prototype.end;
    Object.defineProperty(prototype, "end", {
      configurable: true,
      writable: true,
      value: function end(this: ServerResponse, chunk: string | Buffer, encoding: BufferEncoding) {
        const key = (this.req as KeyedRequest).leastLayerKey;
        if (key === undefined) return originalEnd.call(this, chunk, encoding);
        let head = `${this.statusCode}\n`;
        for (const name of this.getHeaderNames()) head += `${name}: ${String(this.getHeader(name))}\n`;
        const body = typeof chunk === "string" ? Buffer.from(chunk, encoding) : chunk;
        const stored = records.complete(key, Buffer.concat([Buffer.from(head), body]));
        // Store first, then answer, as oncely does: a crash in between never loses the record.
        if (stored === undefined) return originalEnd.call(this, chunk, encoding);
        stored.then(
          () => originalEnd.call(this, chunk, encoding),
          () => this.destroy(),
        );
        return this;
      },
    });
  };
  const parse = express.json({
    verify: (req: KeyedRequest, _res, buf) => {
      req.leastLayerFingerprint = hash(
        "sha256",
        Buffer.concat([Buffer.from(`${req.method}${req.url}`), buf]),
      );
    },
  });
  const claim: RequestHandler = (req: KeyedRequest, res, next) => {
    const key = req.headers["idempotency-key"];
    if (typeof key !== "string") return next();
    const prototype = Object.getPrototypeOf(res) as ServerResponse;
    if (!patched.has(prototype)) patchEnd(prototype);
    const answer = (found: LeastClaim) => {
      if (found === 0) {
        res.statusCode = 409; // still in flight
        res.end();
      } else if (found !== undefined) {
        res.end(found);
      } else {
        req.leastLayerKey = key;
        next();
      }
    };
    const found = records.claim(key);
    if (found instanceof Promise) found.then(answer, next);
    else answer(found);
  };
  return [parse, claim];
}

/** Installs the yardstick layer (and the JSON parser) on `app`. */
export function installLeastLayer(app: Express, records: LeastRecords = mapRecords()): void {
  app.use(...leastLayer(records));
}
