/**
 * The OpenAPI 3.1 description of the idempotency layer: the key header parameter, the
 * replay headers and one problem response per status, as reusable components that merge
 * into a service's own document.
 * @module
 */
import { stripeErrorCode, stripeErrorType } from "../core/error-format.js";
import { defaultShouldStore } from "../core/options.js";
import { PROBLEM_TYPE_BASE } from "../core/problems.js";
import { BODY_OMITTED_HEADER } from "../core/replay.js";
import { type DescribedProblem, problemsByStatus } from "./problems.js";
import { type DescribedSettings, describedSettings, humanDuration, type OpenApiOptions } from "./settings.js";

/** A JSON value of an OpenAPI document. */
export type OpenApiObject = { [field: string]: unknown };

/** Names of the components {@link idempotencyOpenApi} defines; they start with `Idempotency` to avoid clashes. */
export const COMPONENT_NAMES = {
  keyParameter: "IdempotencyKey",
  replayedHeader: "IdempotencyReplayed",
  bodyOmittedHeader: "IdempotencyBodyOmitted",
  retryAfterHeader: "IdempotencyRetryAfter",
  problemSchema: "IdempotencyProblem",
  /** `IdempotencyProblem400`, `IdempotencyProblem409`, … */
  problemResponse: (status: number) => `IdempotencyProblem${status}`,
} as const;

/**
 * An OpenAPI 3.1 document holding only `components`: merge them into your own document's
 * `components`, then reference them from each guarded operation (see {@link idempotencyOperation}).
 * The descriptions state the TTL, the key rules and the scope of the options given, which
 * should be those your service runs with.
 *
 * @param [options.gateway=false] describe `oncely serve`, which adds 502 and 504 problems
 * @example
 * import { idempotencyOpenApi } from "oncely/openapi";
 * const fragment = idempotencyOpenApi({ ttl: 3_600_000, required: true });
 * Object.assign(spec.components.parameters, fragment.components.parameters); // and the other maps
 */
export function idempotencyOpenApi(options: OpenApiOptions = {}): OpenApiObject {
  const settings = describedSettings(options);
  const problems = problemsByStatus(settings);
  const retryAfter = `#/components/headers/${COMPONENT_NAMES.retryAfterHeader}`;
  return {
    openapi: "3.1.0",
    info: {
      title: "Idempotency keys (oncely)",
      version: "1",
      description:
        "Components that describe the idempotency layer in front of this API. Reference " +
        `#/components/parameters/${COMPONENT_NAMES.keyParameter} and the IdempotencyProblem responses from ` +
        `every ${settings.methods.join(" and ")} operation.`,
    },
    components: {
      parameters: { [COMPONENT_NAMES.keyParameter]: keyParameter(settings) },
      headers: {
        [COMPONENT_NAMES.replayedHeader]: {
          description:
            `Sent as \`${settings.replayHeader}: true\` when this response is a replay of the stored response ` +
            "to an earlier request with the same key; the operation did not run again.",
          schema: { type: "string", const: "true" },
        },
        [COMPONENT_NAMES.bodyOmittedHeader]: {
          description: `Sent as \`${BODY_OMITTED_HEADER}: true\` on a replay whose original body was too large to store: the body is empty.`,
          schema: { type: "string", const: "true" },
        },
        [COMPONENT_NAMES.retryAfterHeader]: {
          description: `Seconds to wait before retrying with the same key (${settings.retryAfter} here).`,
          schema: { type: "integer", minimum: 1 },
        },
      },
      schemas: { [COMPONENT_NAMES.problemSchema]: ERROR_SCHEMAS[settings.errorFormat] },
      responses: Object.fromEntries(
        [...problems].map(([status, list]) => [
          COMPONENT_NAMES.problemResponse(status),
          problemResponse(list, retryAfter, settings.errorFormat),
        ]),
      ),
    },
  };
}

/**
 * What a guarded operation references: the key parameter and each problem response by
 * status. Spread `parameters` and `responses` into every guarded operation of your document.
 */
export function idempotencyOperation(options: OpenApiOptions = {}): {
  parameters: OpenApiObject[];
  responses: Record<string, OpenApiObject>;
} {
  const statuses = problemsByStatus(describedSettings(options)).keys();
  return {
    parameters: [{ $ref: `#/components/parameters/${COMPONENT_NAMES.keyParameter}` }],
    responses: Object.fromEntries(
      [...statuses].map((status) => [
        String(status),
        { $ref: `#/components/responses/${COMPONENT_NAMES.problemResponse(status)}` },
      ]),
    ),
  };
}

function keyParameter(settings: DescribedSettings): OpenApiObject {
  const scope = scopeDescription(settings.scope);
  const presence = settings.required
    ? "Required: a request without it is answered 400 (key-required)."
    : "Optional: a request without it executes without protection against duplicates.";
  const mismatch =
    settings.mismatch === "reject"
      ? "Reusing a key with another method, path or body is answered 422 (key-reused)."
      : "Reusing a key with another method, path or body replays the first response.";
  return {
    name: settings.header,
    in: "header",
    required: settings.required,
    description: [
      `A unique key per logical operation (a UUID is ideal), as an RFC 8941 string ("…") or bare. ` +
        `At most ${settings.maxKeyLength} printable ASCII characters; one ${settings.header} field per request.`,
      `The first request with a key runs; a retry with the same key within ${humanDuration(settings.ttl)} ` +
        `gets the stored response back with \`${settings.replayHeader}: true\` instead of running again. ` +
        (settings.customShouldStore
          ? "Some statuses are not stored, so their retry runs again."
          : `Responses with status ${notStoredStatuses()} are not stored, so their retry runs again.`),
      "A retry while the first request still runs is answered 409 (request-in-progress) with Retry-After.",
      mismatch,
      scope,
      presence,
      settings.customKey ? "The service may also take the key from the request body." : "",
    ]
      .filter(Boolean)
      .join("\n\n"),
    // No maxLength: the quoted form adds quotes and escapes to the key's own length.
    schema: { type: "string", minLength: 1 },
    example: '"8e03978e-40d5-43e8-bc93-6894a57f9324"',
  };
}

/** The statuses `defaultShouldStore` refuses, as text: `401, 403, …, 429 or 5xx`. */
function notStoredStatuses(): string {
  const clientErrors = Array.from({ length: 100 }, (_, i) => 400 + i).filter((s) => !defaultShouldStore(s));
  const serverErrors = Array.from({ length: 100 }, (_, i) => 500 + i).every((s) => !defaultShouldStore(s));
  const listed = clientErrors.map(String);
  if (serverErrors) listed.push("5xx");
  return `${listed.slice(0, -1).join(", ")} or ${listed.at(-1)}`;
}

function scopeDescription(scope: DescribedSettings["scope"]): string {
  if (scope.kind === "custom")
    return "Keys are scoped per client as the service decides: two clients never share a key.";
  const header =
    `a SHA-256 hash of the ${scope.name} header: the same key sent with another ${scope.name} is another ` +
    "record, and requests without it share one anonymous scope.";
  if (scope.cookie === undefined) return `Keys are scoped by ${header}`;
  return (
    `Keys are scoped by a SHA-256 hash of the session cookie ${scope.cookie} when the request carries it: ` +
    `the same key sent in another session is another record. Requests without the cookie are scoped by ${header}`
  );
}

function problemResponse(
  problems: readonly DescribedProblem[],
  retryAfterRef: string,
  format: DescribedSettings["errorFormat"],
): OpenApiObject {
  return {
    description: problems.map((p) => `**${p.slug}** — ${p.title}. ${p.description}`).join("\n\n"),
    headers: problems.some((p) => p.retryAfter) ? { "Retry-After": { $ref: retryAfterRef } } : {},
    content: errorContent(problems, format),
  };
}

/** The body of an error answer in the configured format: its media type, schema and examples. */
function errorContent(problems: readonly DescribedProblem[], format: DescribedSettings["errorFormat"]) {
  const [first] = problems as [DescribedProblem];
  const schemaRef = { $ref: `#/components/schemas/${COMPONENT_NAMES.problemSchema}` };
  if (format === "custom") return { "application/json": { schema: schemaRef } };
  if (format === "stripe") {
    const error = (p: DescribedProblem) => ({
      type: stripeErrorType(p.status),
      code: stripeErrorCode(p.slug),
      message: "…",
    });
    return {
      "application/json": {
        schema: {
          allOf: [schemaRef],
          properties: {
            error: {
              properties: {
                type: { const: stripeErrorType(first.status) },
                code: { enum: problems.map((p) => stripeErrorCode(p.slug)) },
              },
            },
          },
        },
        examples: Object.fromEntries(
          problems.map((p) => [p.slug, { summary: p.title, value: { error: error(p) } }]),
        ),
      },
    };
  }
  return {
    "application/problem+json": {
      schema: {
        allOf: [schemaRef],
        properties: {
          type: { enum: problems.map((p) => `${PROBLEM_TYPE_BASE}${p.slug}`) },
          status: { const: first.status },
        },
      },
      examples: Object.fromEntries(
        problems.map((p) => [
          p.slug,
          {
            summary: p.title,
            value: { type: `${PROBLEM_TYPE_BASE}${p.slug}`, title: p.title, status: p.status, detail: "…" },
          },
        ]),
      ),
    },
  };
}

/** RFC 9457 problem details as oncely writes them. */
const PROBLEM_SCHEMA: OpenApiObject = {
  type: "object",
  description: "RFC 9457 problem details. Match on `type`; `title` and `detail` are for people.",
  required: ["type", "title", "status", "detail"],
  properties: {
    type: { type: "string", format: "uri" },
    title: { type: "string" },
    status: { type: "integer" },
    detail: { type: "string" },
  },
};

/** Stripe's error object, as `errorFormat: "stripe"` writes it. */
const STRIPE_ERROR_SCHEMA: OpenApiObject = {
  type: "object",
  description:
    "A Stripe-style error object (`errorFormat: stripe`). Match on `error.code`; `message` is for people.",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["type", "code", "message"],
      properties: {
        type: { type: "string", enum: ["idempotency_error", "invalid_request_error", "api_error"] },
        code: { type: "string" },
        message: { type: "string" },
      },
    },
  },
};

/** An `errorFormat` function's output, which only the service knows. */
const CUSTOM_ERROR_SCHEMA: OpenApiObject = {
  description:
    "The service's own error shape (an `errorFormat` function). The status code and Retry-After are as described.",
};

const ERROR_SCHEMAS: Record<DescribedSettings["errorFormat"], OpenApiObject> = {
  problem: PROBLEM_SCHEMA,
  stripe: STRIPE_ERROR_SCHEMA,
  custom: CUSTOM_ERROR_SCHEMA,
};
