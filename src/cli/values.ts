/**
 * Parsers for the values that flags, `ONCELY_*` variables and the config file carry:
 * durations (`24h`), sizes (`1MiB`), lists (`POST,PATCH`) and the like. Each throws a
 * {@link ValueError} whose message completes the sentence "invalid value for --flag: …".
 * @module
 */
import { validateHeaderName } from "node:http";
import { InvalidOptionError } from "../core/errors.js";
import type { EncryptionKey } from "../stores/encrypt-store.js";
import { keyRing } from "../stores/encryption/key-ring.js";

/** A value that does not parse; the message says what was expected. */
export class ValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ValueError";
  }
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1000,
  kib: 1024,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/**
 * A duration in milliseconds: `500ms`, `5s`, `1.5m`, `24h`, `7d`; a bare number is milliseconds.
 * @example parseDuration("24h") // 86_400_000
 */
export function parseDuration(text: string): number {
  return scaled(text, DURATION_UNITS, "a duration such as 500ms, 5s, 10m, 24h or 7d");
}

/**
 * A size in bytes: `512`, `64KiB`, `1MiB`, `10MB`, `1GiB` (KB = 1000, KiB = 1024; a bare number is bytes).
 * @example parseSize("1MiB") // 1_048_576
 */
export function parseSize(text: string): number {
  return scaled(text, SIZE_UNITS, "a size such as 512, 64KiB, 1MiB or 10MB");
}

function scaled(text: string, units: Record<string, number>, expected: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const factor = match ? units[(match[2] || Object.keys(units)[0])?.toLowerCase() as string] : undefined;
  if (!match || factor === undefined)
    throw new ValueError(`expected ${expected}, got ${JSON.stringify(text)}`);
  const value = Math.round(Number(match[1]) * factor);
  if (!Number.isSafeInteger(value)) throw new ValueError(`${JSON.stringify(text)} is too large`);
  return value;
}

/** Fewest of a unit used when rendering: `24h` reads better than `1d`, `60s` better than `1m`. */
const FEWEST_OF_UNIT: Record<string, number> = { d: 2, h: 1, m: 2, s: 1 };

/** An exact rendering of a duration for help texts, in the largest unit that reads well: `86400000` → `24h`. */
export function formatDuration(ms: number): string {
  for (const [unit, fewest] of Object.entries(FEWEST_OF_UNIT)) {
    const factor = DURATION_UNITS[unit] as number;
    if (ms % factor === 0 && ms / factor >= fewest) return `${ms / factor}${unit}`;
  }
  return `${ms}ms`;
}

/** The shortest exact binary rendering of a size, for help texts: `1048576` → `1MiB`. */
export function formatSize(bytes: number): string {
  for (const [unit, factor] of [
    ["GiB", 1024 ** 3],
    ["MiB", 1024 ** 2],
    ["KiB", 1024],
  ] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return String(bytes);
}

/** A whole number ≥ `min`. */
export function parseInteger(text: string, min = 0): number {
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ValueError(`expected a whole number ≥ ${min}, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** A TCP port, 0 (any free port) to 65535. */
export function parsePort(text: string): number {
  const port = parseInteger(text);
  if (port > 65_535) throw new ValueError(`expected a port from 0 to 65535, got ${text}`);
  return port;
}

/** `true`/`false`, also `1`/`0`, `yes`/`no`, `on`/`off` (for environment variables). */
export function parseBoolean(text: string): boolean {
  const normalised = text.trim().toLowerCase();
  if (["true", "1", "yes", "on"].includes(normalised)) return true;
  if (["false", "0", "no", "off"].includes(normalised)) return false;
  throw new ValueError(`expected true or false, got ${JSON.stringify(text)}`);
}

/** A comma-separated list of non-empty items: `POST, PATCH` → `["POST", "PATCH"]`. */
export function parseList(text: string): string[] {
  const items = text.split(",").map((item) => item.trim());
  if (items.some((item) => item === ""))
    throw new ValueError(`expected a comma-separated list, got ${JSON.stringify(text)}`);
  return items;
}

/** A list of HTTP header names, checked with Node's own header-name rules. */
export function parseHeaderList(text: string): string[] {
  return parseList(text).map(parseHeaderName);
}

/** One HTTP header name. */
export function parseHeaderName(text: string): string {
  const name = text.trim();
  try {
    validateHeaderName(name);
  } catch {
    throw new ValueError(`expected an HTTP header name, got ${JSON.stringify(text)}`);
  }
  return name;
}

/** One cookie name: a token, like a header name, whose case is kept. */
export function parseCookieName(text: string): string {
  const name = text.trim();
  try {
    validateHeaderName(name);
  } catch {
    throw new ValueError(`expected a cookie name, got ${JSON.stringify(text)}`);
  }
  return name;
}

/** One of `allowed`. */
export function parseChoice<T extends string>(text: string, allowed: readonly T[]): T {
  const value = text.trim() as T;
  if (!allowed.includes(value))
    throw new ValueError(`expected one of ${allowed.join(", ")}, got ${JSON.stringify(text)}`);
  return value;
}

/** An absolute http:// or https:// URL. */
export function parseHttpUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ValueError(`expected a URL such as http://127.0.0.1:3000, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ValueError(`expected an http:// or https:// URL, got ${JSON.stringify(text)}`);
  }
  return url;
}

/** A URL path prefix such as `/_oncely`: starts with `/`, no trailing `/`, no query. */
export function parsePathPrefix(text: string): string {
  if (!/^(\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)+$/.test(text)) {
    throw new ValueError(
      `expected a path such as /_oncely (leading slash, no trailing slash), got ${JSON.stringify(text)}`,
    );
  }
  return text;
}

/**
 * Encryption keys as `id:base64key,id:base64key` (the first encrypts new records). Checked
 * here, so that a bad key stops the command at once; messages name key ids, never keys.
 */
export function parseEncryptionKeys(text: string): EncryptionKey[] {
  const keys = text.split(",").map((entry, index) => {
    const colon = entry.indexOf(":");
    if (colon < 1) throw new ValueError(`entry ${index + 1} must be id:base64key`);
    return { id: entry.slice(0, colon).trim(), key: entry.slice(colon + 1).trim() };
  });
  try {
    keyRing({ keys });
  } catch (error) {
    if (error instanceof InvalidOptionError)
      throw new ValueError(error.message.replace(/^options\.encryption(\.keys)?/, "key"));
    throw error;
  }
  return keys;
}
