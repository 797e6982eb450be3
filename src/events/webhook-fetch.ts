import { InvalidOptionError } from "../core/errors.js";
import { answerResponse } from "../http/fetch/respond.js";
import { type WebhookDedupeOptions, webhookDelivery } from "./webhook-delivery.js";

/** A fetch-style handler, as Hono, Next.js route handlers, Bun, Deno and Workers use. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/**
 * Makes a fetch-style webhook handler run once per event. The first delivery runs it; a
 * 2xx response is recorded and later deliveries of the event get `200` without running
 * it. A handler that throws or answers with another status releases the event id, so the
 * sender's redelivery runs it again. A delivery while the event runs elsewhere waits for
 * it (`concurrent: "wait"`) or gets `409` with `Retry-After`; one without an id gets `400`.
 *
 * The event id is read before the handler runs; the handler can still read the body.
 *
 * @param handler the webhook handler
 * @param options `store` and `eventId`; see {@link WebhookDedupeOptions} for the rest
 * @example
 * import { stripeEventId, withWebhookDedupe } from "oncely/events";
 *
 * export const POST = withWebhookDedupe(handleStripeEvent, { store, eventId: stripeEventId });
 */
export function withWebhookDedupe(
  handler: FetchHandler,
  options: WebhookDedupeOptions,
): (request: Request) => Promise<Response> {
  if (typeof handler !== "function") {
    throw new InvalidOptionError("withWebhookDedupe needs a handler function");
  }
  const { deliver } = webhookDelivery(options);

  return async function oncelyWebhook(request) {
    let response: Response | undefined;
    const answer = await deliver(request, async () => {
      response = await handler(request);
      return response.status;
    });
    return answer ? answerResponse(answer) : (response as Response);
  };
}
