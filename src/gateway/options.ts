import { InvalidOptionError } from "../core/errors.js";
import type { IdempotencyOptions } from "../core/options.js";

/**
 * Where the gateway writes its logs. pino's `Logger` fits; so does any object with these
 * three methods. The first argument holds the structured fields, the second the message.
 */
export interface GatewayLogger {
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

/**
 * Options of {@link createGateway}: every engine option (see {@link IdempotencyOptions})
 * plus where to forward requests and how.
 */
export interface GatewayOptions extends IdempotencyOptions {
  /** The HTTP API behind the gateway, e.g. `http://127.0.0.1:3000`; its path is prepended to every request path. */
  upstream: string | URL;
  /**
   * Longest the upstream may stay silent: before its response headers (then the client
   * gets 504) and between two body chunks (then the response is cut off). Either way the
   * key is released. @default 30_000 (30 s)
   */
  upstreamTimeout?: number;
  /** Path prefix of the gateway's own endpoints (`/health`, `/metrics`, the dashboard); never proxied. @default "/_oncely" */
  adminPrefix?: string;
  /** One line per request and the gateway's warnings go here. @default no logging */
  logger?: GatewayLogger;
  /**
   * Serve the operations page at `{adminPrefix}/` and its JSON API, behind this token (at
   * least 16 characters; see `oncely/dashboard`). @default undefined (no dashboard)
   */
  dashboardToken?: string;
  /** Let the dashboard delete records and purge expired ones. @default false (read-only) */
  dashboardWrite?: boolean;
}

/** Defaults of the gateway's own options, and of the `oncely serve` settings that only the command has. */
export const GATEWAY_DEFAULTS = {
  upstreamTimeout: 30_000,
  adminPrefix: "/_oncely",
  port: 8080,
  host: "127.0.0.1",
  store: "sqlite:./.oncely/oncely.db",
  shutdownGrace: 10_000,
  workers: 1,
  logLevel: "info",
} as const;

/** {@link GatewayOptions} with the gateway's own defaults applied (the engine resolves its options itself). */
export interface ResolvedGatewayOptions {
  readonly upstream: URL;
  readonly upstreamTimeout: number;
  readonly adminPrefix: string;
  readonly logger: GatewayLogger | undefined;
  readonly dashboard: { readonly token: string; readonly write: boolean } | undefined;
  readonly engine: IdempotencyOptions;
}

/** Checks the gateway's own options and separates them from the engine's; throws {@link InvalidOptionError}. */
export function resolveGatewayOptions(options: GatewayOptions): ResolvedGatewayOptions {
  const { upstream, upstreamTimeout, adminPrefix, logger, dashboardToken, dashboardWrite, ...engine } =
    options;
  let url: URL;
  try {
    url = new URL(upstream);
  } catch (error) {
    throw new InvalidOptionError(
      `options.upstream must be an http:// or https:// URL, got ${String(upstream)}`,
      {
        cause: error,
      },
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidOptionError(`options.upstream must be an http:// or https:// URL, got ${url.href}`);
  }
  const timeout = upstreamTimeout ?? GATEWAY_DEFAULTS.upstreamTimeout;
  if (!Number.isSafeInteger(timeout) || timeout <= 0) {
    throw new InvalidOptionError(
      `options.upstreamTimeout must be a positive whole number, got ${String(timeout)}`,
    );
  }
  const prefix = adminPrefix ?? GATEWAY_DEFAULTS.adminPrefix;
  if (!prefix.startsWith("/") || prefix.endsWith("/")) {
    throw new InvalidOptionError(
      `options.adminPrefix must start with "/" and not end with one, got ${prefix}`,
    );
  }
  const dashboard =
    dashboardToken === undefined ? undefined : { token: dashboardToken, write: dashboardWrite ?? false };
  return {
    upstream: url,
    upstreamTimeout: timeout,
    adminPrefix: prefix,
    logger,
    dashboard,
    engine,
  };
}
