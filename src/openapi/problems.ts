/**
 * When each problem type is answered, in words for API consumers, and whether the
 * configuration can produce it at all. Keyed by every slug of `PROBLEMS`, so a new problem
 * type does not compile until it is described here.
 * @module
 */
import { PROBLEMS, type ProblemSlug } from "../core/problems.js";
import { type DescribedSettings, humanDuration } from "./settings.js";

interface ProblemDescription {
  /** Whether the service, configured so, can answer with this problem. */
  readonly answered: (settings: DescribedSettings) => boolean;
  /** When it is answered and what the client should do. */
  readonly text: (settings: DescribedSettings) => string;
  /** Whether the answer carries `Retry-After` (a retry with the same key may succeed). */
  readonly retryAfter: boolean;
}

/** A problem type the guarded API never answers with. */
const NOT_THE_API: ProblemDescription = { retryAfter: false, answered: () => false, text: () => "" };

const DESCRIPTIONS: Record<ProblemSlug, ProblemDescription> = {
  "invalid-key": {
    retryAfter: false,
    answered: () => true,
    text: ({ header, maxKeyLength }) =>
      `The ${header} header is empty, longer than ${maxKeyLength} characters, not printable ASCII, ` +
      "sent more than once, a list, or a malformed quoted string. Do not retry: fix the key.",
  },
  "key-required": {
    retryAfter: false,
    answered: ({ required }) => required,
    text: ({ header }) => `The request carries no ${header} header. Do not retry: send a key.`,
  },
  "request-in-progress": {
    retryAfter: true,
    answered: () => true,
    text: ({ wait }) =>
      `Another request with this key is still executing${wait > 0 ? ` (after waiting ${humanDuration(wait)} for it)` : ""}. ` +
      "Retry with the same key after Retry-After seconds.",
  },
  "request-too-large": {
    retryAfter: false,
    // A body that streams on is refused only over a finite `maxUploadBytes`.
    answered: ({ readsBody, streamsBody, maxUploadBytes }) =>
      readsBody && (!streamsBody || Number.isFinite(maxUploadBytes)),
    text: ({ maxRequestBodyBytes, maxUploadBytes, streamsBody }) =>
      streamsBody
        ? `The request body is larger than ${maxUploadBytes} bytes. Do not retry.`
        : `The request body is larger than ${maxRequestBodyBytes} bytes, so it cannot be fingerprinted. Do not retry.`,
  },
  "key-reused": {
    retryAfter: false,
    answered: ({ mismatch }) => mismatch === "reject",
    text: () =>
      "The key was used before with a different method, path or body. Do not retry: use a new key for a new request.",
  },
  "store-unavailable": {
    retryAfter: true,
    answered: ({ onStoreError }) => onStoreError === "closed",
    text: () => "The idempotency store failed. Retry with the same key after Retry-After seconds.",
  },
  "record-unreadable": {
    retryAfter: false,
    answered: () => true,
    text: () =>
      "The stored record of this key is damaged or encrypted under a key the service no longer has. " +
      "Retrying does not help until the operator restores the key or deletes the record.",
  },
  "malformed-request": {
    retryAfter: false,
    answered: ({ gateway }) => gateway,
    text: () =>
      "The request could not be parsed as HTTP/1.1 (a control character in a header value such as the key, " +
      "a malformed request line or header); the connection is closed. Do not retry as is.",
  },
  "request-timeout": {
    retryAfter: false,
    answered: ({ gateway }) => gateway,
    text: () => "The request did not arrive in time; the connection is closed. Retry.",
  },
  "request-header-too-large": {
    retryAfter: false,
    answered: ({ gateway }) => gateway,
    text: () => "The request's header fields are too large; the connection is closed. Send smaller headers.",
  },
  "internal-error": {
    retryAfter: false,
    answered: ({ gateway }) => gateway,
    text: () => "The gateway failed unexpectedly; the key was released. Retry with the same key.",
  },
  // Not answers of the API: the webhook helpers', the admin endpoints' and the dashboard's.
  "invalid-event-id": NOT_THE_API,
  "event-in-progress": NOT_THE_API,
  "not-found": NOT_THE_API,
  "method-not-allowed": NOT_THE_API,
  "dashboard-unauthorized": NOT_THE_API,
  "dashboard-read-only": NOT_THE_API,
  "upstream-unreachable": {
    retryAfter: true,
    answered: ({ gateway }) => gateway,
    text: () =>
      "The service behind the gateway refused the connection or dropped it before answering; the key was released. " +
      "Retry with the same key after Retry-After seconds.",
  },
  "upstream-timeout": {
    retryAfter: true,
    answered: ({ gateway }) => gateway,
    text: () =>
      "The service behind the gateway did not answer in time; the key was released. Retry with the same key " +
      "after Retry-After seconds (the service may have acted).",
  },
};

/** A problem type the configured service can answer with. */
export interface DescribedProblem {
  readonly slug: ProblemSlug;
  readonly status: number;
  readonly title: string;
  readonly description: string;
  readonly retryAfter: boolean;
}

/** The problem types `settings` can produce, grouped by status in ascending order. */
export function problemsByStatus(settings: DescribedSettings): Map<number, DescribedProblem[]> {
  const byStatus = new Map<number, DescribedProblem[]>();
  const slugs = (Object.keys(PROBLEMS) as ProblemSlug[]).filter((slug) =>
    DESCRIPTIONS[slug].answered(settings),
  );
  for (const slug of slugs) {
    const { status, title } = PROBLEMS[slug];
    const problems = byStatus.get(status) ?? [];
    const { text, retryAfter } = DESCRIPTIONS[slug];
    problems.push({ slug, status, title, description: text(settings), retryAfter });
    byStatus.set(status, problems);
  }
  return new Map([...byStatus].sort(([a], [b]) => a - b));
}
