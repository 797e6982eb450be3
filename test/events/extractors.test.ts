import type { IncomingMessage, ServerResponse } from "node:http";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type EventIdExtractor,
  githubDeliveryId,
  headerId,
  jsonBodyId,
  shopifyWebhookId,
  standardWebhooksId,
  stripeEventId,
} from "../../src/events/index.js";
import { listen, readBody, send, type TestServer } from "../helpers/http.js";
import { serveFetch } from "./support.js";

/** Every server answers `{ id, body }`: what the extractor found, and the body the handler could still read. */
type Extracted = { id: string | null; body: string };

/** The extractor under test travels in the URL path, so one server per framework serves every case. */
const extractors: Record<string, EventIdExtractor> = {
  standardWebhooks: standardWebhooksId,
  github: githubDeliveryId,
  shopify: shopifyWebhookId,
  stripe: stripeEventId,
  customHeader: headerId("x-event-id"),
  customBody: jsonBodyId((body) => (body as { data?: { id?: unknown } }).data?.id),
};
const pick = (url: string | undefined): EventIdExtractor =>
  extractors[(url ?? "").slice(1)] as EventIdExtractor;

const answer = (res: ServerResponse, extracted: Extracted) => {
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify(extracted));
};

/** How each framework hands the request to the extractor; every one reads the body after it. */
const frameworks: Record<string, () => Promise<TestServer>> = {
  "node:http, unread body": () =>
    listen(async (req, res) => {
      const id = (await pick(req.url)(req)) ?? null;
      answer(res, { id, body: (await readBody(req)).toString("utf8") });
    }),
  "Express after express.json()": () => {
    const app = express();
    app.use(express.json({ type: () => true }));
    app.post("/:extractor", async (req, res) => {
      answer(res, { id: (await pick(req.url)(req)) ?? null, body: JSON.stringify(req.body) });
    });
    return listen(app);
  },
  "Express after express.raw()": () => {
    const app = express();
    app.use(express.raw({ type: () => true }));
    app.post("/:extractor", async (req, res) => {
      answer(res, { id: (await pick(req.url)(req)) ?? null, body: (req.body as Buffer).toString("utf8") });
    });
    return listen(app);
  },
  "Express before express.json()": () => {
    const app = express();
    app.post(
      "/:extractor",
      async (req: IncomingMessage, res: ServerResponse & { locals: Record<string, unknown> }, next) => {
        res.locals.id = (await pick(req.url)(req)) ?? null;
        next();
      },
      express.json({ type: () => true }),
      (req, res) => answer(res, { id: res.locals.id as string | null, body: JSON.stringify(req.body) }),
    );
    return listen(app);
  },
  "fetch Request": () =>
    serveFetch(async (request) => {
      const id = (await pick(new URL(request.url).pathname)(request)) ?? null;
      return Response.json({ id, body: await request.text() } satisfies Extracted);
    }),
};

const payload = JSON.stringify({
  id: "evt_1NG8Du2eZvKYlo2CUI79vXWy",
  object: "event",
  data: { id: "obj_42" },
});
const cases: Array<{ extractor: string; headers: Record<string, string>; id: string | null }> = [
  {
    extractor: "standardWebhooks",
    headers: { "webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W" },
    id: "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
  },
  { extractor: "standardWebhooks", headers: { "svix-id": "msg_svix_branded" }, id: "msg_svix_branded" },
  {
    extractor: "github",
    headers: { "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958" },
    id: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
  },
  {
    extractor: "shopify",
    headers: { "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043" },
    id: "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
  },
  { extractor: "stripe", headers: {}, id: "evt_1NG8Du2eZvKYlo2CUI79vXWy" },
  { extractor: "customHeader", headers: { "X-Event-Id": "  custom-1  " }, id: "custom-1" },
  { extractor: "customBody", headers: {}, id: "obj_42" },
  { extractor: "github", headers: {}, id: null },
  { extractor: "shopify", headers: { "X-Shopify-Webhook-Id": "" }, id: null },
];

describe.each(Object.entries(frameworks))("extractors on a real %s request", (_name, start) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => {
    await server.close();
  });

  it.each(cases)("$extractor finds $id", async ({ extractor, headers, id }) => {
    const reply = await send(`${server.url}/${extractor}`, {
      headers: { "content-type": "application/json", ...headers },
      body: payload,
    });
    expect(reply.status).toBe(200);
    const extracted = reply.json() as Extracted;
    expect(extracted.id).toBe(id);
    // The handler still reads the whole body after the extractor looked at it.
    expect(JSON.parse(extracted.body)).toEqual(JSON.parse(payload));
  });
});

// express.json() answers 400 itself for a body that is not JSON, so it is not among these.
const tolerant = ["node:http, unread body", "Express after express.raw()", "fetch Request"] as const;

describe.each(tolerant)("a body id on a real %s request that is not JSON", (name) => {
  it("is not found, and the body stays intact for the handler", async () => {
    const server = await (frameworks[name] as () => Promise<TestServer>)();
    try {
      const reply = await send(`${server.url}/stripe`, {
        headers: { "content-type": "text/plain" },
        body: "id=evt_1",
      });
      expect(reply.json()).toEqual({ id: null, body: "id=evt_1" });
    } finally {
      await server.close();
    }
  });
});
