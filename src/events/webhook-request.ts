import type { IncomingMessage } from "node:http";
import { DEFAULTS } from "../core/options.js";
// Loads nothing of Node (it imports Node's types only): this module is part of the entry advertised for Workers and Deno.
import { bufferRequestBody, TOO_LARGE } from "../http/node/body.js";

/** The part of a fetch `Request` the extractors read. A real `Request` fits. */
export interface FetchRequestLike {
  readonly headers: { get(name: string): string | null };
  /** Read instead of the request itself, so the handler can still read the body. */
  clone(): { text(): Promise<string> };
}

/** The part of a Node or Express request the extractors read. An `IncomingMessage` fits. */
export interface NodeRequestLike {
  /** Header names in lower case, as Node gives them. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /**
   * The body as a parser left it: an object (`express.json()`), a Buffer (`express.raw()`)
   * or a string (`express.text()`). Absent when no parser ran.
   */
  readonly body?: unknown;
}

/**
 * A request from either world: a fetch `Request` (Hono, Next.js, Bun, Deno, Workers) or
 * a Node/Express request. Extractors take this, so one extractor serves every framework.
 */
export type WebhookRequest = FetchRequestLike | NodeRequestLike;

/** The value of header `name` (case-insensitive), or undefined when it is absent or empty. */
export function readHeader(request: WebhookRequest, name: string): string | undefined {
  const { headers } = request;
  const value = isFetchHeaders(headers) ? headers.get(name) : headers[name.toLowerCase()];
  // Node joins repeated lines with ", " except for a few names, which it lists instead.
  const text = typeof value === "string" ? value : value?.[0];
  const trimmed = text?.trim();
  return trimmed ? trimmed : undefined;
}

/**
 * The request body parsed as JSON, or undefined when there is none or it is not JSON.
 * It never consumes the body the handler will read: a fetch request is cloned first; an
 * unparsed Node stream is read and put back; a body a parser already produced is used as is.
 */
export async function readJson(request: WebhookRequest): Promise<unknown> {
  if (isFetchRequest(request)) return parse(await request.clone().text());
  const { body } = request;
  if (body === undefined && isNodeStream(request)) {
    const raw = await bufferRequestBody(request, DEFAULTS.maxRequestBodyBytes);
    return raw === TOO_LARGE ? undefined : parse(raw.toString("utf8"));
  }
  if (typeof body === "string") return parse(body);
  if (body instanceof Uint8Array) return parse(Buffer.from(body).toString("utf8"));
  return body;
}

function isFetchHeaders(headers: WebhookRequest["headers"]): headers is FetchRequestLike["headers"] {
  return typeof (headers as { get?: unknown }).get === "function";
}

/** A Node request whose body is still in its stream; told apart without loading `node:http`. */
function isNodeStream(request: NodeRequestLike): request is IncomingMessage {
  const candidate = request as Partial<IncomingMessage>;
  return typeof candidate.read === "function" && typeof candidate.unshift === "function";
}

function isFetchRequest(request: WebhookRequest): request is FetchRequestLike {
  return isFetchHeaders(request.headers);
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
