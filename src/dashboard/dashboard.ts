import type { IncomingMessage, ServerResponse } from "node:http";
import { InvalidOptionError } from "../core/errors.js";
import type { IdempotencyHooks } from "../core/hooks.js";
import type { IdempotencyStore } from "../store.js";
import { Activity } from "./activity.js";
import { type DashboardApiContext, serveApi } from "./api.js";
import { PAGE_CSP, PAGE_HTML } from "./page.js";

/** Options of {@link createDashboard}. */
export interface DashboardOptions {
  /** The store the engine uses; records are listed from it (the built-in stores can). */
  store: IdempotencyStore;
  /**
   * The secret the page and its API ask for (`Authorization: Bearer <token>`). Required:
   * without a token there is no dashboard. Use a long random string; at least 16 characters.
   */
  token: string;
  /** Allow deleting records and purging expired ones from the page. @default false (read-only) */
  write?: boolean;
  /** Path the page is served at; the API is under `{basePath}/api/`. @default "/_oncely" */
  basePath?: string;
}

/** Shortest accepted token: a guessable token would open the records to anyone. */
const MIN_TOKEN_LENGTH = 16;

/** A mounted operations page: its request handler and the engine hooks that feed it. */
export interface Dashboard {
  /**
   * Answers requests for the page and its API and returns true; returns false (and leaves
   * the response alone) for every other path.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Connect/Express middleware: the page and its API, `next()` for the rest. */
  middleware(req: IncomingMessage, res: ServerResponse, next: () => void): void;
  /** Engine hooks that count events for the page, then call the same hooks of `user`. */
  observe(user?: IdempotencyHooks): IdempotencyHooks;
}

/**
 * The operations page for an engine: live events per second, the replay rate with a warning
 * above 20%, records in flight with their lease age, the latest records, and a key lookup.
 * Pass `dashboard.observe(yourHooks)` as the engine's `hooks` and mount `dashboard.handle`
 * (or `dashboard.middleware`) in your server.
 *
 * @param [options.write=false] allow deleting and purging records from the page
 * @param [options.basePath="/_oncely"] where the page is served
 * @throws {InvalidOptionError} when the token is missing or shorter than 16 characters
 * @example
 * const dashboard = createDashboard({ store, token: process.env.ONCELY_DASHBOARD_TOKEN! });
 * app.use(dashboard.middleware);
 * app.use(idempotency({ store, hooks: dashboard.observe() }));
 */
export function createDashboard(options: DashboardOptions): Dashboard {
  const { store, token, write = false, basePath = "/_oncely" } = options;
  if (typeof token !== "string" || token.length < MIN_TOKEN_LENGTH) {
    throw new InvalidOptionError(
      `the dashboard token must be a string of at least ${MIN_TOKEN_LENGTH} characters`,
    );
  }
  if (!basePath.startsWith("/") || basePath.endsWith("/")) {
    throw new InvalidOptionError(
      `options.basePath must start with "/" and not end with one, got ${basePath}`,
    );
  }
  const activity = new Activity();
  const context: DashboardApiContext = { store, activity, token, write };
  const api = `${basePath}/api`;

  function handle(req: IncomingMessage, res: ServerResponse): boolean {
    // Every request of the app or the gateway passes here: the rest must cost no URL parsing.
    if (!req.url?.startsWith(basePath)) return false;
    const url = new URL(req.url, "http://dashboard.invalid");
    const path = url.pathname;
    if (path === basePath || path === `${basePath}/`) {
      if (req.method !== "GET" && req.method !== "HEAD") return false;
      res.statusCode = 200;
      res.setHeader("content-type", "text/html; charset=utf-8");
      res.setHeader("content-security-policy", PAGE_CSP);
      res.setHeader("x-content-type-options", "nosniff");
      res.setHeader("referrer-policy", "no-referrer");
      res.setHeader("cache-control", "no-store");
      res.end(req.method === "HEAD" ? undefined : PAGE_HTML);
      return true;
    }
    if (!path.startsWith(`${api}/`)) return false;
    return serveApi(context, req, res, path.slice(api.length), url.searchParams);
  }

  return {
    handle,
    middleware: (req, res, next) => {
      if (!handle(req, res)) next();
    },
    observe: (user) => activity.observe(user),
  };
}
