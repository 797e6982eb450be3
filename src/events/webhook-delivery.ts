import { InvalidOptionError } from "../core/errors.js";
import { type ProblemResponse, problem } from "../core/problems.js";
import { createDeduper } from "./deduper.js";
import { InvalidEventIdError } from "./errors.js";
import type { EventIdExtractor } from "./extractors.js";
import type { DeduperOptions } from "./options.js";
import type { WebhookRequest } from "./webhook-request.js";

/** Options of the webhook helpers: the deduper's, plus where the event id is. */
export interface WebhookDedupeOptions extends DeduperOptions {
  /** Finds the event id, e.g. `githubDeliveryId`, `stripeEventId`, or your own function. */
  eventId: EventIdExtractor;
}

/** An answer a webhook helper gives instead of running the handler: a problem, or the 200 of a duplicate. */
export type WebhookAnswer = ProblemResponse;

const TEXT = "text/plain; charset=utf-8";

/**
 * Senders redeliver on any status but 2xx. A duplicate therefore gets 200 (done: stop
 * sending), and an event still running elsewhere gets a 409 problem with `Retry-After`
 * (try again later, by when it has finished).
 */
const DUPLICATE: WebhookAnswer = {
  status: 200,
  headers: [
    ["content-type", TEXT],
    ["x-idempotency-replayed", "true"],
  ],
  body: "duplicate delivery: this event was already processed\n",
};
const IN_PROGRESS: WebhookAnswer = problem(
  "event-in-progress",
  "this event is still being processed; retry later",
  1,
);

/** Thrown inside the deduper when the handler answered with a non-2xx status, so that the id is released. */
class Unsuccessful extends Error {}

/** Whether a handler's status tells the sender it succeeded; other statuses release the id for a redelivery. */
function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

/**
 * The framework-free part of a deduplicated webhook route: given one request and a way to
 * run the handler, finds the event id and runs the handler through the deduper. `run`
 * resolves with the status the handler answered with: 2xx is recorded, any other
 * releases the id.
 *
 * Resolves with the answer to send instead of the handler's (400 without an id, 200 for
 * a duplicate, 409 while in progress), or undefined when the handler ran and answered.
 * Rejects with what the handler throws (the id is released), or with the store's error
 * (nothing ran).
 */
export type Deliver = (
  request: WebhookRequest,
  run: () => Promise<number>,
) => Promise<WebhookAnswer | undefined>;

/** Checks the options of a webhook helper once, and returns its {@link Deliver} with the lease it uses. */
export function webhookDelivery(options: WebhookDedupeOptions): { deliver: Deliver; lease: number } {
  const deduper = createDeduper(options);
  const { eventId } = options;
  if (typeof eventId !== "function") throw new InvalidOptionError("options.eventId must be a function");
  const deliver: Deliver = async (request, run) => {
    const id = await eventId(request);
    if (id === undefined) return badId("no event id found in this request");
    try {
      const result = await deduper.once(id, async () => {
        if (!isSuccess(await run())) throw new Unsuccessful();
      });
      if (result.outcome === "executed") return undefined;
      return result.outcome === "duplicate" ? DUPLICATE : IN_PROGRESS;
    } catch (error) {
      if (error instanceof Unsuccessful) return undefined;
      if (error instanceof InvalidEventIdError) return badId(error.message);
      throw error;
    }
  };
  return { deliver, lease: deduper.options.lease };
}

/** The request carries no usable event id, so it cannot have come from the configured sender. */
function badId(reason: string): WebhookAnswer {
  return problem("invalid-event-id", reason);
}
