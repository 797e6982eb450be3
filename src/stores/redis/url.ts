import { InvalidStoreUrlError } from "../../core/errors.js";
import { redactUrl } from "../redact-url.js";

/** One Redis server address. */
export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

/** A Redis deployment as described by a store URL. */
export interface RedisTarget {
  /** One server (`redis://`, `rediss://`), or the seed nodes of a Redis Cluster (`redis-cluster://`). */
  readonly mode: "standalone" | "cluster";
  readonly nodes: readonly RedisNode[];
  /** Credentials; in a cluster they apply to every node. */
  readonly username?: string;
  readonly password?: string;
  /** Database number from the path (`redis://host/2`); always 0 in a cluster. */
  readonly db: number;
  readonly tls: boolean;
  /** Key prefix from the `prefix` query parameter. */
  readonly prefix?: string;
}

const defaultPort = 6379;

/**
 * Parses `redis://[user:password@]host[:port][/db][?prefix=…]`, the same with
 * `rediss://` (TLS), or `redis-cluster://[user:password@]host:port,host:port,…[?prefix=…]`.
 *
 * @throws {InvalidStoreUrlError} when the URL is malformed; the message shows the URL
 * as `redactUrl` does, without a password.
 */
export function parseRedisUrl(url: string): RedisTarget {
  const scheme = url.slice(0, url.indexOf(":")).toLowerCase();
  if (scheme === "redis-cluster") return parseClusterUrl(url);
  if (scheme !== "redis" && scheme !== "rediss")
    fail(url, "the scheme must be redis:, rediss: or redis-cluster:");
  const parsed = parse(url, url);
  return {
    mode: "standalone",
    nodes: [node(parsed, url)],
    tls: scheme === "rediss",
    ...settings(parsed, url),
  };
}

function parseClusterUrl(url: string): RedisTarget {
  // WHATWG URL parsing cannot read a comma-separated host list, so split the authority
  // by hand and let URL parse each seed, and the rest, on its own.
  const match = /^redis-cluster:\/\/([^/?#]*)(.*)$/is.exec(url);
  if (!match) return fail(url, "expected redis-cluster://host:port,host:port");
  const authority = match[1] ?? "";
  const at = authority.lastIndexOf("@");
  const userinfo = authority.slice(0, at + 1);
  const seeds = authority.slice(at + 1).split(",");
  if (seeds.some((seed) => seed.trim() === "")) fail(url, "the seed list has an empty entry");
  const base = settings(parse(`redis://${userinfo}${seeds[0]}${match[2] ?? ""}`, url), url);
  if (base.db !== 0) fail(url, "Redis Cluster has only database 0");
  const nodes = seeds.map((seed) => node(parse(`redis://${seed.trim()}`, url), url));
  return { mode: "cluster", nodes, tls: false, ...base };
}

function parse(text: string, url: string): URL {
  try {
    return new URL(text);
  } catch {
    return fail(url, "it is not a valid URL");
  }
}

function node(parsed: URL, url: string): RedisNode {
  // Non-special schemes keep the brackets of an IPv6 literal in `hostname`.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  if (host === "") fail(url, "it names no host");
  const port = parsed.port === "" ? defaultPort : Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) fail(url, `port ${parsed.port} is out of range`);
  return { host, port };
}

function settings(parsed: URL, url: string): Omit<RedisTarget, "mode" | "nodes" | "tls"> {
  const path = parsed.pathname;
  if (path !== "" && path !== "/" && !/^\/\d+$/.test(path)) fail(url, "the path must be a database number");
  for (const name of parsed.searchParams.keys()) {
    if (name !== "prefix")
      fail(url, `unknown parameter ${JSON.stringify(name)} (only "prefix" is supported)`);
  }
  const prefix = parsed.searchParams.get("prefix");
  const username = decode(parsed.username, url);
  const password = decode(parsed.password, url);
  return {
    db: path.length > 1 ? Number(path.slice(1)) : 0,
    ...(username !== "" && { username }),
    ...(password !== "" && { password }),
    ...(prefix !== null && { prefix }),
  };
}

function decode(component: string, url: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    return fail(url, "the credentials are not percent-encoded correctly");
  }
}

function fail(url: string, reason: string): never {
  throw new InvalidStoreUrlError(`invalid Redis store URL ${JSON.stringify(redactUrl(url))}: ${reason}`);
}
