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

/**
 * The names a `Connection` header lists, which are hop-by-hop too; undefined when there is
 * none (most requests and responses: then nothing is allocated).
 */
function connectionListed(raw: readonly string[]): Set<string> | undefined {
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length !== 10 || name.toLowerCase() !== "connection") continue;
    listed ??= new Set();
    for (const token of (raw[i + 1] as string).split(",")) listed.add(token.trim().toLowerCase());
  }
  return listed;
}

/**
 * The end-to-end lines of a raw header list, as a raw list again (`[name, value, …]`),
 * leaving out the names in `drop` too.
 */
function endToEnd(raw: readonly string[], drop?: ReadonlySet<string>): string[] {
  const listed = connectionListed(raw);
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed?.has(lower) || drop?.has(lower)) continue;
    kept.push(name, raw[i + 1] as string);
  }
  return kept;
}

/**
 * The headers sent upstream, as a raw `[name, value, …]` list: the client's end-to-end
 * headers (the idempotency key and the credential included), `Host` set to the upstream,
 * the client's address appended to `X-Forwarded-For`, and `X-Forwarded-Proto`/`-Host`
 * describing the request as the gateway received it.
 */
export function upstreamRequestHeaders(req: IncomingMessage, upstreamHost: string): string[] {
  const raw = req.rawHeaders;
  const flat = endToEnd(raw, REPLACED_IN_REQUESTS);
  let forwardedFor = "";
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 15 && name.toLowerCase() === "x-forwarded-for") forwardedFor += `${raw[i + 1]}, `;
  }
  forwardedFor += req.socket.remoteAddress ?? "unknown";
  flat.push("Host", upstreamHost, "X-Forwarded-For", forwardedFor);
  flat.push("X-Forwarded-Proto", (req.socket as Partial<TLSSocket>).encrypted ? "https" : "http");
  const host = req.headers.host;
  if (host) flat.push("X-Forwarded-Host", host);
  return flat;
}

/**
 * Copies the upstream's status and end-to-end headers onto the client's response (before
 * any body byte), one `setHeader` per name: the Node HTTP layer's capture reads them there.
 */
export function copyResponseHead(upstream: IncomingMessage, res: ServerResponse): void {
  res.statusCode = upstream.statusCode ?? 502;
  if (upstream.statusMessage) res.statusMessage = upstream.statusMessage;
  const flat = endToEnd(upstream.rawHeaders);
  const grouped = new Map<string, string[]>();
  for (let i = 0; i < flat.length; i += 2) {
    const lower = (flat[i] as string).toLowerCase();
    const values = grouped.get(lower);
    if (values) values.push(flat[i + 1] as string);
    else grouped.set(lower, [flat[i + 1] as string]);
  }
  for (const [name, values] of grouped)
    res.setHeader(name, values.length === 1 ? (values[0] as string) : values);
}

/**
 * Writes the upstream's status and end-to-end headers as the client's response head, in
 * their order and spelling, without `drop` (the `storeHeader`, the upstream's word to the
 * gateway): for unguarded requests, which nothing captures.
 */
export function writeResponseHead(
  upstream: IncomingMessage,
  res: ServerResponse,
  drop: ReadonlySet<string>,
): void {
  res.writeHead(
    upstream.statusCode ?? 502,
    upstream.statusMessage || undefined,
    endToEnd(upstream.rawHeaders, drop),
  );
}
