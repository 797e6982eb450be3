/**
 * `oncely/express`: idempotency middleware for Express 4 and 5.
 *
 * Express passes Node's own request and response objects along, so this is the Node
 * adapter's middleware; Express-specific details (`req.originalUrl` for mounted
 * routers, bodies already parsed by `express.json()`) are handled there.
 *
 * Mount it before body parsers so the fingerprint covers the exact body bytes; mounted
 * after one, it fingerprints `req.rawBody` when present, else `req.body` as JSON. A keyed
 * body over `maxRequestBodyBytes` is not buffered: it streams to the parsers and handlers
 * after oncely, hashed as Node receives it, up to `maxUploadBytes` (no cap by default).
 *
 * @example
 * import express from "express";
 * import { createStore } from "oncely";
 * import { idempotency } from "oncely/express";
 *
 * const app = express();
 * app.use(idempotency({ store: await createStore("sqlite:./.oncely/oncely.db") }));
 * app.use(express.json());
 * app.post("/orders", (req, res) => res.status(201).json({ id: 1 }));
 * @module
 */
export type { IdempotencyOptions } from "../../core/options.js";
export { respondToClientError } from "../../http/node/client-error.js";
export { idempotency, type NodeMiddleware as ExpressMiddleware } from "../node/middleware.js";
