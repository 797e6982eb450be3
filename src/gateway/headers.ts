/**
 * Which headers cross the gateway. End-to-end headers pass unchanged, in order, repeats
 * kept; hop-by-hop ones describe one connection and are dropped at each hop (RFC 9110 §7.6.1).
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * Dropped from requests on top of the hop-by-hop ones: `Host` names the gateway (it is
 * rewritten), `Expect` was already answered by this server, and the forwarding headers
 * are recomputed.
 */
const REPLACED_IN_REQUESTS = new Set([
  "host",
  "expect",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
]);

/** The end-to-end `[name, value]` pairs of a raw header list, including names listed in `Connection`. */
function endToEnd(raw: readonly string[]): Array<[string, string]> {
  const listed = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() !== "connection") continue;
    for (const token of (raw[i + 1] as string).split(",")) listed.add(token.trim().toLowerCase());
  }
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed.has(lower)) continue;
    pairs.push([name, raw[i + 1] as string]);
  }
  return pairs;
}

/**
 * The headers sent upstream, as a raw `[name, value, …]` list: the client's end-to-end
 * headers (the idempotency key and the credential included), `Host` set to the upstream,
 * the client's address appended to `X-Forwarded-For`, and `X-Forwarded-Proto`/`-Host`
 * describing the request as the gateway received it.
 */
export function upstreamRequestHeaders(req: IncomingMessage, upstreamHost: string): string[] {
  const flat: string[] = [];
  const forwardedFor: string[] = [];
  for (const [name, value] of endToEnd(req.rawHeaders)) {
    const lower = name.toLowerCase();
    if (lower === "x-forwarded-for") forwardedFor.push(value);
    if (!REPLACED_IN_REQUESTS.has(lower)) flat.push(name, value);
  }
  forwardedFor.push(req.socket.remoteAddress ?? "unknown");
  flat.push("Host", upstreamHost, "X-Forwarded-For", forwardedFor.join(", "));
  flat.push("X-Forwarded-Proto", (req.socket as Partial<TLSSocket>).encrypted ? "https" : "http");
  const host = req.headers.host;
  if (host) flat.push("X-Forwarded-Host", host);
  return flat;
}

/** Copies the upstream's status and end-to-end headers onto the client's response (before any body byte). */
export function copyResponseHead(upstream: IncomingMessage, res: ServerResponse): void {
  res.statusCode = upstream.statusCode ?? 502;
  if (upstream.statusMessage) res.statusMessage = upstream.statusMessage;
  const grouped = new Map<string, string[]>();
  for (const [name, value] of endToEnd(upstream.rawHeaders)) {
    const lower = name.toLowerCase();
    const values = grouped.get(lower);
    if (values) values.push(value);
    else grouped.set(lower, [value]);
  }
  for (const [name, values] of grouped)
    res.setHeader(name, values.length === 1 ? (values[0] as string) : values);
}
