/**
 * `oncely/events`: handler-level deduplication for webhooks, queue consumers and plain
 * functions — the second layer next to HTTP idempotency keys (see docs/events.md).
 *
 * - {@link createDeduper}: `dedupe.once(eventId, handler)` runs a handler once per event id;
 * - {@link makeIdempotent}: wraps a function so it runs once per key;
 * - extractors such as {@link githubDeliveryId} find a delivery's event id;
 * - {@link withWebhookDedupe} (fetch) and {@link webhookDedupe} (Express) deduplicate a
 *   webhook route in one line.
 *
 * Every store from `createStore(url)` works here, shared with the HTTP engine or not.
 * @module
 */
export { createDeduper, Deduper, type EventContext, type OnceResult } from "./deduper.js";
export {
  ArgumentsMismatchError,
  CallInProgressError,
  InvalidEventIdError,
  LeaseLostError,
  NotSerializableError,
} from "./errors.js";
export {
  type EventIdExtractor,
  githubDeliveryId,
  headerId,
  jsonBodyId,
  shopifyWebhookId,
  standardWebhooksId,
  stripeEventId,
} from "./extractors.js";
export type { FingerprintOption } from "./fingerprint.js";
export { type IdempotentOptions, makeIdempotent } from "./idempotent.js";
export {
  type DeduperOptions,
  EVENT_DEFAULTS,
  type EventStoreErrorEvent,
  type ResolvedDeduperOptions,
} from "./options.js";
export { RESULT_STATUS } from "./result-record.js";
export type { WebhookDedupeOptions } from "./webhook-delivery.js";
export { webhookDedupe } from "./webhook-express.js";
export { type FetchHandler, withWebhookDedupe } from "./webhook-fetch.js";
export {
  type FetchRequestLike,
  type NodeRequestLike,
  readHeader,
  readJson,
  type WebhookRequest,
} from "./webhook-request.js";
