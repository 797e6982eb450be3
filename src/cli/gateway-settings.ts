/**
 * The settings of `oncely serve` (and `oncely demo`) that are not engine options: where to
 * listen, where to forward, which store, timeouts, admin prefix and logging.
 * @module
 */

import { LOG_LEVELS } from "../gateway/logging.js";
import { GATEWAY_DEFAULTS } from "../gateway/options.js";
import { setting } from "./settings.js";
import {
  formatDuration,
  parseBoolean,
  parseChoice,
  parseDuration,
  parseEncryptionKeys,
  parseHttpUrl,
  parseInteger,
  parsePathPrefix,
  parsePort,
} from "./values.js";

/** Where the gateway listens and which store it uses. */
export const LISTEN_SETTINGS = {
  port: setting({
    placeholder: "<port>",
    description: "port to listen on (0 picks a free one)",
    defaultText: String(GATEWAY_DEFAULTS.port),
    parse: parsePort,
  }),
  host: setting({
    placeholder: "<host>",
    description: "address to listen on (0.0.0.0 for every interface)",
    defaultText: GATEWAY_DEFAULTS.host,
    parse: (text) => text.trim(),
  }),
  store: setting({
    placeholder: "<url>",
    description: "where records live: sqlite:PATH, memory:, redis://…, redis-cluster://…, postgres://…",
    defaultText: GATEWAY_DEFAULTS.store,
    parse: (text) => text.trim(),
  }),
  encryptionKeys: setting({
    placeholder: "<id:key,…>",
    description:
      "encrypt stored responses with AES-256-GCM: id:base64key pairs (32-byte keys), the first for new records, all for reading",
    parse: parseEncryptionKeys,
    secret: true,
  }),
};

/** How the gateway forwards, shuts down, exposes itself and logs. */
export const PROXY_SETTINGS = {
  upstreamTimeout: setting({
    placeholder: "<duration>",
    description: "longest silence of the upstream, before its headers (504) or between body chunks",
    defaultText: formatDuration(GATEWAY_DEFAULTS.upstreamTimeout),
    parse: parseDuration,
  }),
  shutdownGrace: setting({
    placeholder: "<duration>",
    description:
      "on SIGTERM/SIGINT, how long requests in flight may take to finish before their keys are released",
    defaultText: formatDuration(GATEWAY_DEFAULTS.shutdownGrace),
    parse: parseDuration,
  }),
  adminPrefix: setting({
    placeholder: "<path>",
    description:
      "path prefix of the gateway's own endpoints (/health, /metrics, the dashboard), never proxied",
    defaultText: GATEWAY_DEFAULTS.adminPrefix,
    parse: parsePathPrefix,
  }),
  dashboardToken: setting({
    placeholder: "<token>",
    description:
      "serve the operations page at <admin-prefix>/ behind this token (16+ characters; prefer the variable, flags show in ps)",
    parse: (text) => text.trim(),
  }),
  dashboardWrite: setting({
    description: "let the dashboard delete records and purge expired ones",
    defaultText: "false",
    parse: parseBoolean,
  }),
  logLevel: setting({
    placeholder: "<level>",
    description: `${LOG_LEVELS.join(", ")}; info logs one JSON line per request`,
    defaultText: GATEWAY_DEFAULTS.logLevel,
    parse: (text) => parseChoice(text, LOG_LEVELS),
  }),
};

/** The upstream, which `oncely serve` needs and `oncely demo` provides itself. */
export const UPSTREAM_SETTINGS = {
  upstream: setting({
    placeholder: "<url>",
    description: "required: the HTTP API to put the gateway in front of, e.g. http://127.0.0.1:3000",
    parse: parseHttpUrl,
  }),
};

/** Settings of `oncely serve` alone. */
export const SERVE_SETTINGS = {
  workers: setting({
    placeholder: "<n>",
    description:
      "gateway processes sharing the port and the store (not with memory:); up to the machine's cores",
    defaultText: String(GATEWAY_DEFAULTS.workers),
    parse: (text) => parseInteger(text, 1),
  }),
};
