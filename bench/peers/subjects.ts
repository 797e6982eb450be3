// How each subject of the comparison guards POST /orders: bare, oncely on each of its stores,
// and the three peers on Redis, each wired the way its own package documents (see each
// function). Every subject returns the handlers of the route; the last one is always the
// shared handler of handler.ts.
import { createClient } from "@redis/client";
import express, { type NextFunction, type Request, type RequestHandler, type Response } from "express";
import { leastLayer } from "../least-layer.js";
import { storeRecords } from "../least-stores.js";
import { createOrder, orderRoute, send } from "./handler.js";

/** A subject of the comparison. */
export interface Subject {
  /** Its column or row name. */
  readonly name: string;
  /** The store it runs on: a key of the harness's store URLs. */
  readonly store: "none" | "memory" | "sqlite" | "redis" | "postgres";
  /** Builds the handlers of POST /orders, given the store URL and the handler's delay. */
  install(url: string, delayMs: number): Promise<RequestHandler[]>;
  /**
   * A yardstick, not a library: measured, never checked for correctness (bench/least-layer.ts
   * handles the happy path only).
   */
  readonly yardstick?: boolean;
}

// Every subject parses the same JSON, up to 10 MiB, so that the 5 MiB check reaches the layer.
const json = express.json({ limit: "10mb" });

// The compiled package, as users run it (bench/server.ts explains why not the source).
const dist = "../../dist/";

/** oncely's Express middleware on a store URL, before the body parser as its docs show. */
async function oncely(url: string, delayMs: number): Promise<RequestHandler[]> {
  const { idempotency } = (await import(
    `${dist}adapters/express/index.js`
  )) as typeof import("../../src/adapters/express/index.js");
  const { createStore } = (await import(`${dist}index.js`)) as typeof import("../../src/index.js");
  return [idempotency({ store: await createStore(url) }), json, orderRoute(delayMs)];
}

/**
 * express-idempotency with express-idempotency-redis-adapter, its published Redis data
 * adapter. The middleware calls next() after sending a replay, so the route must ask
 * isHit() first, as the package's README says.
 */
async function expressIdempotency(url: string, delayMs: number): Promise<RequestHandler[]> {
  const { idempotency, getSharedIdempotencyService } = await import("express-idempotency");
  const adapterModule = (await import("express-idempotency-redis-adapter")) as unknown as {
    default: typeof import("express-idempotency-redis-adapter").default;
  };
  const RedisAdapter = adapterModule.default;
  const dataAdapter = new RedisAdapter({ connectionConfig: { url } });
  await dataAdapter.connect();
  const middleware = idempotency({ dataAdapter });
  const service = getSharedIdempotencyService();
  const route = orderRoute(delayMs);
  return [
    json,
    middleware,
    async (req: Request, res: Response) => {
      if (!service.isHit(req)) await route(req, res);
    },
  ];
}

/**
 * @node-idempotency/core with its Redis storage adapter. Its Express middleware
 * (@node-idempotency/express) is not on the npm registry, so this is the smallest glue that
 * does what that package's packages/plugin-express/src/middleware.ts does in the project's
 * repository: onRequest before the route, the answer stored by onResponse from a res.send
 * hook (not awaited, as there), replayed with the status and the headers of
 * @node-idempotency/shared's headers2Cache, errors mapped by its idempotency2HttpCodeMap.
 */
async function nodeIdempotency(url: string, delayMs: number): Promise<RequestHandler[]> {
  const { Idempotency, IdempotencyError } = await import("@node-idempotency/core");
  const { RedisStorageAdapter } = await import("@node-idempotency/storage-adapter-redis");
  const { headers2Cache, idempotency2HttpCodeMap, HTTPHeaderEnum } = await import("@node-idempotency/shared");
  const storage = new RedisStorageAdapter({ url });
  await storage.connect();
  const layer = new Idempotency(storage);
  const cached = Object.values(headers2Cache);
  const guard = async (req: Request, res: Response, next: NextFunction) => {
    const request = { headers: req.headers, body: req.body, path: req.url, method: req.method };
    try {
      const stored = await layer.onRequest(request);
      if (!stored) {
        const original = res.send.bind(res);
        res.send = (body?: unknown) => {
          const headers = res.getHeaders();
          const additional: Record<string, unknown> = { statusCode: res.statusCode };
          for (const name of cached) {
            const value = headers[name.toLowerCase()];
            if (value) additional[name] = value;
          }
          const isJson = String(headers["content-type"] ?? "").includes("application/json");
          const payload = isJson && typeof body === "string" ? JSON.parse(body) : body;
          void layer.onResponse(request, {
            additional,
            ...(res.statusCode < 400 ? { body: payload } : { error: payload }),
          });
          return original(body);
        };
        next();
        return;
      }
      const additional = stored.additional ?? {};
      if (additional.statusCode) res.status(additional.statusCode as number);
      for (const name of cached) if (additional[name]) res.set(name, String(additional[name]));
      res.set(HTTPHeaderEnum.idempotentReplayed, "true");
      res.send(stored.body);
    } catch (error) {
      if (error instanceof IdempotencyError) {
        res.status((idempotency2HttpCodeMap as Record<string, number>)[error.code] ?? 500);
      }
      next(error);
    }
  };
  return [json, guard, orderRoute(delayMs)];
}

/**
 * @aws-lambda-powertools/idempotency with its cache persistence layer on @redis/client.
 * Powertools wraps a function, not a route: makeIdempotent wraps createOrder, called with
 * `{ key, body }` (the Idempotency-Key header and the parsed body); eventKeyJmesPath "key"
 * picks the key, and the function returns the whole answer (status, headers, body), which
 * the route sends. Outside Lambda there is no context to bound an in-progress record, and a
 * duplicate then takes it for an orphan and runs again; registerLambdaContext with a
 * context-like object giving 60 s closes that. Payload validation stays off: with
 * payloadValidationJmesPath the cache layer stores completed records without the payload
 * hash, and every replay fails validation (docs/comparison.md says where). Its errors are
 * mapped here: in progress 409, anything else 500.
 */
async function powertools(url: string, delayMs: number): Promise<RequestHandler[]> {
  const { makeIdempotent, IdempotencyConfig } = await import("@aws-lambda-powertools/idempotency");
  const { CachePersistenceLayer } = await import("@aws-lambda-powertools/idempotency/cache");
  const client = await createClient({ url }).connect();
  const persistenceStore = new CachePersistenceLayer({
    client: client as unknown as ConstructorParameters<typeof CachePersistenceLayer>[0]["client"],
  });
  const config = new IdempotencyConfig({ eventKeyJmesPath: "key" });
  config.registerLambdaContext({ getRemainingTimeInMillis: () => 60_000 } as Parameters<
    typeof config.registerLambdaContext
  >[0]);
  const idempotent = makeIdempotent(
    async (input: { key: string | undefined; body: { sku?: unknown } }) => createOrder(input.body, delayMs),
    { persistenceStore, config, keyPrefix: "orders" },
  );
  const statuses: Record<string, number> = { IdempotencyAlreadyInProgressError: 409 };
  return [
    json,
    async (req: Request, res: Response) => {
      try {
        send(res, await idempotent({ key: req.get("idempotency-key"), body: req.body ?? {} }));
      } catch (error) {
        const name = (error as Error).name;
        res.status(statuses[name] ?? 500).json({ error: name });
      }
    },
  ];
}

/** Every subject, in the order of the tables. */
export const SUBJECTS: readonly Subject[] = [
  { name: "bare Express", store: "none", install: async (_url, delayMs) => [json, orderRoute(delayMs)] },
  { name: "oncely memory", store: "memory", install: oncely },
  { name: "oncely SQLite", store: "sqlite", install: oncely },
  {
    // The fewest Redis commands any layer needs (bench/least-stores.ts), for how far every
    // Redis subject is from what Redis itself costs.
    name: "least layer Redis",
    store: "redis",
    yardstick: true,
    install: async (url, delayMs) => [...leastLayer(await storeRecords(url)), orderRoute(delayMs)],
  },
  { name: "oncely Redis", store: "redis", install: oncely },
  { name: "oncely PostgreSQL", store: "postgres", install: oncely },
  { name: "express-idempotency Redis", store: "redis", install: expressIdempotency },
  {
    name: "@node-idempotency Redis",
    store: "redis",
    install: nodeIdempotency,
  },
  {
    name: "Powertools Redis",
    store: "redis",
    install: powertools,
  },
];
