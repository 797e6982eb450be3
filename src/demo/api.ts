/**
 * The demo's upstream: a small file-conversion API that knows nothing about idempotency.
 *
 * - `POST /v1/convert?target=json|csv|html` converts the body (CSV → JSON, JSON → CSV,
 *   Markdown → HTML, chosen by `Content-Type`) and counts one conversion against the
 *   caller's monthly quota. The answer carries `X-Conversion-Id` (new for every conversion)
 *   and `X-Quota-Limit` / `X-Quota-Remaining`.
 * - `GET /v1/quota` shows the caller's quota.
 *
 * The caller is identified by `Authorization: Bearer <api key>`.
 * @module
 */
import { randomUUID } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { ConversionError, convert, TARGETS, type Target } from "./convert.js";
import type { MonthlyQuota } from "./quota.js";

/** Largest document the API converts. */
const MAX_INPUT_BYTES = 1024 * 1024;

/** Creates the demo API's server (not yet listening). */
export function createDemoApi(quota: MonthlyQuota): http.Server {
  return http.createServer((req, res) => {
    handle(req, res, quota).catch((error: unknown) => {
      if (res.headersSent) res.destroy();
      else problem(res, 500, "Internal error", error instanceof Error ? error.message : String(error));
    });
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, quota: MonthlyQuota): Promise<void> {
  const url = new URL(req.url ?? "/", "http://demo");
  if (url.pathname === "/" && req.method === "GET") {
    res.setHeader("content-type", "text/plain; charset=utf-8");
    res.end(
      "oncely demo API: POST /v1/convert?target=json|csv|html, GET /v1/quota (Authorization: Bearer <api key>)\n",
    );
    return;
  }
  const route = `${req.method} ${url.pathname}`;
  if (route !== "POST /v1/convert" && route !== "GET /v1/quota") {
    return problem(res, 404, "Not found", "try POST /v1/convert?target=json|csv|html or GET /v1/quota");
  }
  const apiKey = bearerToken(req.headers.authorization);
  if (!apiKey) {
    res.setHeader("www-authenticate", 'Bearer realm="oncely demo"');
    return problem(res, 401, "API key required", "send Authorization: Bearer <any api key you like>");
  }
  if (route === "GET /v1/quota") return json(res, 200, quota.usage(apiKey));

  const target = url.searchParams.get("target") as Target | null;
  if (!target || !TARGETS.includes(target)) {
    return problem(res, 400, "Unknown target", `add ?target= with one of ${TARGETS.join(", ")}`);
  }
  if (quota.usage(apiKey).remaining === 0) return quotaExceeded(res, quota, apiKey);
  const input = await readText(req);
  if (input === undefined)
    return problem(res, 413, "Document too large", `send at most ${MAX_INPUT_BYTES} bytes`);
  let converted: Awaited<ReturnType<typeof convert>>;
  try {
    converted = await convert(input, req.headers["content-type"], target);
  } catch (error) {
    if (error instanceof ConversionError) return problem(res, error.status, "Cannot convert", error.message);
    throw error;
  }
  // Counted only once the work is done: a failed conversion costs nothing.
  if (!quota.consume(apiKey)) return quotaExceeded(res, quota, apiKey);
  const usage = quota.usage(apiKey);
  res.writeHead(200, {
    "content-type": converted.contentType,
    "x-conversion-id": `conv_${randomUUID()}`,
    "x-quota-limit": String(usage.limit),
    "x-quota-remaining": String(usage.remaining),
  });
  res.end(converted.body);
}

function quotaExceeded(res: ServerResponse, quota: MonthlyQuota, apiKey: string): void {
  const usage = quota.usage(apiKey);
  res.setHeader("retry-after", String(Math.ceil((Date.parse(usage.resetsAt) - Date.now()) / 1000)));
  problem(
    res,
    429,
    "Monthly quota used up",
    `${usage.limit} conversions a month; the quota resets at ${usage.resetsAt}`,
  );
}

function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

/** The body as UTF-8 text, or undefined when it is larger than {@link MAX_INPUT_BYTES}. */
async function readText(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_INPUT_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function json(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(`${JSON.stringify(body)}\n`);
}

function problem(res: ServerResponse, status: number, title: string, detail: string): void {
  res.writeHead(status, { "content-type": "application/problem+json" });
  res.end(`${JSON.stringify({ type: "about:blank", title, status, detail })}\n`);
}
