// The shapes of oncely's own error answers: problem+json, Stripe's error object (whose
// SDKs raise it as their own error classes, by `type`), or the user's function.
import { describe, expect, it } from "vitest";
import { formatError, stripeErrorCode, stripeErrorType } from "../../src/core/error-format.js";
import { problem } from "../../src/core/problems.js";

const reused = {
  type: "https://oncely.dev/problems/key-reused",
  slug: "key-reused",
  title: "Idempotency key reused with a different request",
  status: 422,
  detail: "this key was used with another body",
};

describe("error formats", () => {
  it("writes RFC 9457 problem+json without the slug", () => {
    const { contentType, body } = formatError(reused, "problem");
    expect(contentType).toBe("application/problem+json");
    expect(JSON.parse(body)).toEqual({
      type: reused.type,
      title: reused.title,
      status: 422,
      detail: reused.detail,
    });
  });

  it("writes Stripe's error object as JSON", () => {
    const { contentType, body } = formatError(reused, "stripe");
    expect(contentType).toBe("application/json");
    expect(JSON.parse(body)).toEqual({
      error: { type: "idempotency_error", code: "key_reused", message: reused.detail },
    });
  });

  it("gives the Stripe type by status: idempotency errors, other refusals, server failures", () => {
    expect([409, 422, 400, 404, 413, 499, 500, 503].map(stripeErrorType)).toEqual([
      "idempotency_error",
      "idempotency_error",
      "invalid_request_error",
      "invalid_request_error",
      "invalid_request_error",
      "invalid_request_error",
      "api_error",
      "api_error",
    ]);
    expect(stripeErrorCode("request-header-too-large")).toBe("request_header_too_large");
  });

  it("sends what a format function returns as JSON", () => {
    const { contentType, body } = formatError(reused, ({ slug, status }) => ({ failure: slug, status }));
    expect(contentType).toBe("application/json");
    expect(JSON.parse(body)).toEqual({ failure: "key-reused", status: 422 });
  });

  it("keeps status and headers the same in every format", () => {
    for (const format of ["problem", "stripe", () => ({})] as const) {
      const response = problem("request-in-progress", "still running", 2, [["x-extra", "1"]], format);
      expect(response.status).toBe(409);
      expect(response.headers.slice(1)).toEqual([
        ["cache-control", "no-store"],
        ["retry-after", "2"],
        ["x-extra", "1"],
      ]);
    }
    expect(problem("store-unavailable", "down").headers).toEqual([
      ["content-type", "application/problem+json"],
      ["cache-control", "no-store"],
    ]);
  });
});
