/**
 * Where common webhook senders put the id that stays the same across redeliveries of
 * one event. Each extractor is a plain function of a {@link WebhookRequest}; write your
 * own for any other sender.
 * @module
 */
import { readHeader, readJson, type WebhookRequest } from "./webhook-request.js";

/** Finds a delivery's event id; undefined when the request carries none. */
export type EventIdExtractor = (request: WebhookRequest) => string | undefined | Promise<string | undefined>;

/**
 * The first present header among `names`.
 * @example const eventId = headerId("x-event-id");
 */
export function headerId(...names: readonly string[]): EventIdExtractor {
  return function headerEventId(request) {
    for (const name of names) {
      const value = readHeader(request, name);
      if (value !== undefined) return value;
    }
    return undefined;
  };
}

/**
 * A string picked out of the JSON body by `select`; anything else counts as no id, and so
 * does a `select` that throws (a body without the expected shape, as `body.event.id` on a
 * body without `event`), so such a delivery gets a 400, not a 500.
 * @example const eventId = jsonBodyId((body) => (body as { event: { id: string } }).event.id);
 */
export function jsonBodyId(select: (body: unknown) => unknown): EventIdExtractor {
  return async function jsonBodyEventId(request) {
    const body = await readJson(request);
    if (body === undefined || body === null) return undefined;
    let id: unknown;
    try {
      id = select(body);
    } catch {
      return undefined;
    }
    return typeof id === "string" && id !== "" ? id : undefined;
  };
}

/** Standard Webhooks and Svix: the `webhook-id` header (`svix-id` from Svix's branded senders). */
export const standardWebhooksId: EventIdExtractor = headerId("webhook-id", "svix-id");

/** GitHub: the `X-GitHub-Delivery` header, kept by GitHub's redeliveries. */
export const githubDeliveryId: EventIdExtractor = headerId("x-github-delivery");

/** Shopify: the `X-Shopify-Webhook-Id` header. */
export const shopifyWebhookId: EventIdExtractor = headerId("x-shopify-webhook-id");

/** Stripe: the event's `id` (`evt_…`) in the JSON body. */
export const stripeEventId: EventIdExtractor = jsonBodyId((body) => (body as { id?: unknown }).id);
