/**
 * `oncely/gateway`: the reverse proxy behind `oncely serve`, for embedding in a program
 * of your own. It gives any HTTP API idempotency keys without changing the API's code.
 * @module
 */
export type { IdempotencyOptions } from "../core/options.js";
export {
  ClientAbortedError,
  UpstreamError,
  UpstreamTimeoutError,
  UpstreamUnreachableError,
} from "./errors.js";
export { createGateway, Gateway } from "./gateway.js";
export type { GatewayMetrics } from "./metrics.js";
export { GATEWAY_DEFAULTS, type GatewayLogger, type GatewayOptions } from "./options.js";
export type { RequestOutcome } from "./request-record.js";
export type { ShutdownReport } from "./shutdown.js";
