/**
 * `oncely/node`: idempotency for `node:http` servers.
 * @module
 */
export type { IdempotencyOptions } from "../../core/options.js";
export { clientErrorResponder, respondToClientError } from "../../http/node/client-error.js";
export { idempotency, type NodeHandler, type NodeMiddleware, withIdempotency } from "./middleware.js";
