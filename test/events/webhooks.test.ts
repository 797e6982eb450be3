import express from "express";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  githubDeliveryId,
  jsonBodyId,
  stripeEventId,
  type WebhookDedupeOptions,
  webhookDedupe,
  withWebhookDedupe,
} from "../../src/events/index.js";
import { createStore } from "../../src/index.js";
import type { IdempotencyStore } from "../../src/store.js";
import { listen, newKey, send, type TestServer } from "../helpers/http.js";
import { failing } from "../helpers/stores.js";
import { freshScope, serveFetch, sleep } from "./support.js";

/**
 * The webhook route of every test. `x-mode` tells it what to do: `throw`, answer `503`,
 * or wait `x-delay` ms first; otherwise it answers 202 with the event it handled.
 */
interface Route {
  /** How often the route ran, per event id. */
  readonly runs: Map<string, number>;
  handle(id: string, mode: string | null, delay: number): Promise<{ status: number; body: unknown }>;
}

function route(): Route {
  const runs = new Map<string, number>();
  return {
    runs,
    async handle(id, mode, delay) {
      runs.set(id, (runs.get(id) ?? 0) + 1);
      if (delay > 0) await sleep(delay);
      if (mode === "throw") throw new Error("route failed");
      if (mode === "503") return { status: 503, body: { retry: true } };
      return { status: 202, body: { handled: id, run: runs.get(id) } };
    },
  };
}

type Options = Omit<WebhookDedupeOptions, "store" | "eventId">;

/** One webhook route behind each helper, over real HTTP. */
const helpers: Record<string, (store: IdempotencyStore, options: Options, r: Route) => Promise<TestServer>> =
  {
    "withWebhookDedupe (fetch)": (store, options, r) =>
      serveFetch(
        withWebhookDedupe(
          async (request) => {
            const { headers } = request;
            const { status, body } = await r.handle(
              headers.get("x-github-delivery") ?? "",
              headers.get("x-mode"),
              Number(headers.get("x-delay") ?? 0),
            );
            return Response.json(body, { status });
          },
          { store, eventId: githubDeliveryId, ...options },
        ),
      ),
    "webhookDedupe (Express)": (store, options, r) => {
      const app = express();
      app.post("/", webhookDedupe({ store, eventId: githubDeliveryId, ...options }), async (req, res) => {
        const { status, body } = await r.handle(
          req.get("x-github-delivery") ?? "",
          req.get("x-mode") ?? null,
          Number(req.get("x-delay") ?? 0),
        );
        res.status(status).json(body);
      });
      return listen(app);
    },
  };

describe.each(Object.entries(helpers))("%s over real HTTP", (_name, serve) => {
  let store: IdempotencyStore;
  const servers: TestServer[] = [];
  const start = async (options: Options = {}) => {
    const r = route();
    const server = await serve(store, { scope: freshScope(), ...options }, r);
    servers.push(server);
    return { url: server.url, runs: r.runs };
  };
  const deliver = (url: string, id: string | undefined, headers: Record<string, string> = {}) =>
    send(url, { headers: { ...(id ? { "x-github-delivery": id } : {}), ...headers }, body: "{}" });

  beforeAll(async () => {
    store = await createStore("memory:");
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });
  afterAll(async () => {
    await store.close();
  });

  it("runs the route for the first delivery and answers 200 to duplicates without running it", async () => {
    const { url, runs } = await start();
    const id = newKey();
    const first = await deliver(url, id);
    expect(first.status).toBe(202);
    expect(first.json()).toEqual({ handled: id, run: 1 });
    for (let i = 0; i < 3; i++) {
      const duplicate = await deliver(url, id);
      expect(duplicate.status).toBe(200);
      expect(duplicate.headers.get("x-idempotency-replayed")).toBe("true");
      expect(duplicate.text).toMatch(/already processed/);
    }
    expect(runs.get(id)).toBe(1);
  });

  it("answers 400 without running the route when the delivery has no event id", async () => {
    const { url, runs } = await start();
    const reply = await deliver(url, undefined);
    expect(reply.status).toBe(400);
    expect(reply.headers.get("content-type")).toBe("application/problem+json");
    expect(reply.json()).toMatchObject({
      type: "https://oncely.dev/problems/invalid-event-id",
      status: 400,
      detail: "no event id found in this request",
    });
    expect(runs.size).toBe(0);
  });

  it("releases the event when the route throws or answers non-2xx, so the redelivery runs it", async () => {
    const { url, runs } = await start();
    const id = newKey();
    expect((await deliver(url, id, { "x-mode": "throw" })).status).toBe(500);
    const unavailable = await deliver(url, id, { "x-mode": "503" });
    expect(unavailable.status).toBe(503);
    expect(unavailable.json()).toEqual({ retry: true });
    const redelivery = await deliver(url, id);
    expect(redelivery.status).toBe(202);
    expect(redelivery.json()).toEqual({ handled: id, run: 3 });
    expect((await deliver(url, id)).status).toBe(200);
    expect(runs.get(id)).toBe(3);
  });

  it("hands a store failure before the route ran to the framework (500), so the sender retries", async () => {
    const r = route();
    const down = new Error("store unreachable");
    const server = await serve(failing(store, "claim", down), { scope: freshScope() }, r);
    servers.push(server);
    expect((await deliver(server.url, newKey())).status).toBe(500);
    expect(r.runs.size).toBe(0);
  });

  it('answers 409 with Retry-After to a concurrent delivery with concurrent: "reject"', async () => {
    const { url, runs } = await start({ concurrent: "reject" });
    const id = newKey();
    const first = deliver(url, id, { "x-delay": "300" });
    await sleep(100);
    const concurrent = await deliver(url, id);
    expect(concurrent.status).toBe(409);
    expect(concurrent.headers.get("retry-after")).toBe("1");
    expect(concurrent.headers.get("content-type")).toBe("application/problem+json");
    expect(concurrent.json()).toMatchObject({ type: "https://oncely.dev/problems/event-in-progress" });
    expect((await first).status).toBe(202);
    expect((await deliver(url, id)).status).toBe(200);
    expect(runs.get(id)).toBe(1);
  });

  it('makes a concurrent delivery wait and answers it 200 with concurrent: "wait"', async () => {
    const { url, runs } = await start({ concurrent: "wait", waitTimeout: 5_000 });
    const id = newKey();
    const replies = await Promise.all([
      deliver(url, id, { "x-delay": "200" }),
      sleep(50).then(() => deliver(url, id)),
      sleep(50).then(() => deliver(url, id)),
    ]);
    expect(replies.map((reply) => reply.status)).toEqual([202, 200, 200]);
    expect(runs.get(id)).toBe(1);
  });
});

describe("webhookDedupe (Express) when the sender hangs up", () => {
  let store: IdempotencyStore;
  let server: TestServer;
  const runs = new Map<string, number>();
  const lease = 400;

  beforeAll(async () => {
    store = await createStore("memory:");
    const app = express();
    // The route is slow, or never answers at all (`x-mode: hang`).
    app.post(
      "/",
      webhookDedupe({ store, eventId: githubDeliveryId, scope: freshScope(), lease }),
      async (req, res) => {
        const id = req.get("x-github-delivery") ?? "";
        runs.set(id, (runs.get(id) ?? 0) + 1);
        if (req.get("x-mode") === "hang") return;
        await sleep(300);
        res.status(202).send("done");
      },
    );
    server = await listen(app);
  });
  afterAll(async () => {
    await server.close();
    await store.close();
  });

  const hangUp = async (id: string, headers: Record<string, string> = {}) => {
    const controller = new AbortController();
    const delivery = send(server.url, {
      headers: { "x-github-delivery": id, ...headers },
      signal: controller.signal,
    }).catch(() => "aborted");
    await sleep(100);
    controller.abort();
    expect(await delivery).toBe("aborted");
  };

  it("records a route that finishes after the sender timed out, so the redelivery is a duplicate", async () => {
    const id = newKey();
    await hangUp(id);
    await sleep(400);
    expect((await send(server.url, { headers: { "x-github-delivery": id } })).status).toBe(200);
    expect(runs.get(id)).toBe(1);
  });

  it("gives up a route that never answers one lease period after the sender left", async () => {
    const id = newKey();
    await hangUp(id, { "x-mode": "hang" });
    await sleep(lease + 200);
    const redelivery = await send(server.url, { headers: { "x-github-delivery": id } });
    expect(redelivery.status).toBe(202);
    expect(runs.get(id)).toBe(2);
  });
});

describe("webhook helpers with a body-based event id", () => {
  it("read Stripe's event id before the route, which still parses the body (Express and fetch)", async () => {
    const store = await createStore("memory:");
    const scope = freshScope();
    const seen: unknown[] = [];
    const app = express();
    app.post("/", webhookDedupe({ store, scope, eventId: stripeEventId }), express.json(), (req, res) => {
      seen.push(req.body);
      res.sendStatus(204);
    });
    const servers = [
      await listen(app),
      await serveFetch(
        withWebhookDedupe(
          async (request) => {
            seen.push(await request.json());
            return new Response(null, { status: 204 });
          },
          { store, scope: freshScope(), eventId: stripeEventId },
        ),
      ),
    ];
    try {
      for (const server of servers) {
        const event = { id: `evt_${newKey()}`, type: "invoice.paid" };
        const body = JSON.stringify(event);
        const headers = { "content-type": "application/json" };
        expect((await send(server.url, { headers, body })).status).toBe(204);
        expect((await send(server.url, { headers, body })).status).toBe(200);
        expect(seen.pop()).toEqual(event);
        expect(seen).toEqual([]);
      }
    } finally {
      await Promise.all(servers.map((server) => server.close()));
      await store.close();
    }
  });
});

describe("jsonBodyId((body) => body.event.id), the selector of docs/events.md", () => {
  it("answers 400 invalid-event-id, not 500, to a body without `event` (Express and fetch)", async () => {
    const store = await createStore("memory:");
    const eventId = jsonBodyId((body) => (body as { event: { id: unknown } }).event.id);
    const ran: string[] = [];
    const app = express();
    app.post("/", webhookDedupe({ store, scope: freshScope(), eventId }), (_req, res) => {
      ran.push("express");
      res.sendStatus(204);
    });
    const servers = [
      await listen(app),
      await serveFetch(
        withWebhookDedupe(
          () => {
            ran.push("fetch");
            return new Response(null, { status: 204 });
          },
          { store, scope: freshScope(), eventId },
        ),
      ),
    ];
    try {
      for (const server of servers) {
        const headers = { "content-type": "application/json" };
        const reply = await send(server.url, { headers, body: '{"type":"ping"}' });
        expect(reply.status).toBe(400);
        expect(reply.json()).toMatchObject({ type: "https://oncely.dev/problems/invalid-event-id" });
        const body = JSON.stringify({ event: { id: `evt_${newKey()}` } });
        expect((await send(server.url, { headers, body })).status).toBe(204);
      }
      expect(ran).toEqual(["express", "fetch"]);
    } finally {
      await Promise.all(servers.map((server) => server.close()));
      await store.close();
    }
  });
});

describe("webhook helper options", () => {
  it("rejects a missing event id extractor or handler when the route is set up", async () => {
    const store = await createStore("memory:");
    const respond = async () => new Response(null, { status: 204 });
    expect(() => webhookDedupe({ store } as WebhookDedupeOptions)).toThrow("options.eventId");
    expect(() => withWebhookDedupe(respond, { store } as WebhookDedupeOptions)).toThrow("options.eventId");
    expect(() => withWebhookDedupe(undefined as never, { store, eventId: githubDeliveryId })).toThrow(
      "handler",
    );
    expect(() => webhookDedupe({ store, eventId: githubDeliveryId, ttl: -1 })).toThrow("options.ttl");
    await store.close();
  });
});
