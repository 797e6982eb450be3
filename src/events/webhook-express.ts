import type { ServerResponse } from "node:http";
import type { NodeMiddleware } from "../http/node/guard.js";
import { sendWhole } from "../http/node/send.js";
import { type WebhookDedupeOptions, webhookDelivery } from "./webhook-delivery.js";

/**
 * Express (or any connect-style) middleware that makes the webhook route after it run
 * once per event. The first delivery goes on to the route; if it answers 2xx the event
 * is recorded and later deliveries get `200` without reaching the route. A route that
 * fails (an error, a non-2xx status) releases the event id, so the sender's redelivery
 * runs it again; so does one that never answers within a lease period after the sender
 * hung up. A delivery while the event runs elsewhere waits for it (`concurrent: "wait"`)
 * or gets `409` with `Retry-After`; one without an id gets `400`.
 *
 * The id is read from headers or, for body-based ids, from `req.body` when a parser ran
 * before (e.g. `express.raw()`, which signature checks need anyway), else from the raw
 * stream, which is put back for the parsers after it.
 *
 * @param options `store` and `eventId`; see {@link WebhookDedupeOptions} for the rest
 * @example
 * import { githubDeliveryId, webhookDedupe } from "oncely/events";
 *
 * app.post("/webhooks/github", webhookDedupe({ store, eventId: githubDeliveryId }), handleGithubEvent);
 */
export function webhookDedupe(options: WebhookDedupeOptions): NodeMiddleware {
  const { deliver, lease } = webhookDelivery(options);
  return function oncelyWebhookDedupe(req, res, next) {
    deliver(req, () => passOn(res, next, lease)).then((answer) => answer && sendWhole(res, answer), next);
  };
}

/**
 * Hands the request to the route and resolves with the status it ended the response
 * with. The route's work is done when it ends the response, even if the sender has
 * already hung up (a sender timeout), so that counts. A route that never ends after the
 * sender left is given one lease period, then the id is given up (resolves 0), so a
 * stuck route cannot pin the event for ever.
 */
function passOn(res: ServerResponse, next: (error?: unknown) => void, graceMs: number): Promise<number> {
  return new Promise((resolve) => {
    const end = res.end;
    res.end = function endAndSettle(this: ServerResponse, ...args: unknown[]) {
      res.end = end;
      resolve(res.statusCode);
      return end.apply(this, args as Parameters<ServerResponse["end"]>);
    } as ServerResponse["end"];
    res.once("close", () => {
      if (!res.writableEnded) setTimeout(() => resolve(0), graceMs).unref();
    });
    next();
  });
}
