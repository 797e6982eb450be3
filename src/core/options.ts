import type { IdempotencyStore } from "../store.js";
import type { ErrorFormat } from "./error-format.js";
import { InvalidOptionError } from "./errors.js";
import type { IdempotencyHooks } from "./hooks.js";
import { jsonBodyKey, type KeyExtractor } from "./json-key.js";
import type { IncomingRequest } from "./request.js";

/** What goes into the request fingerprint that detects a key reused with another payload. */
export interface FingerprintParts {
  /** Include the request method. @default true */
  method?: boolean;
  /** Include the path with its query string. @default true */
  path?: boolean;
  /** Include the raw body bytes (the adapter then buffers the body, up to `maxRequestBodyBytes`). @default true */
  body?: boolean;
}

/** Which response headers are stored and replayed. Names are case-insensitive. */
export interface ResponseHeaderPolicy {
  /** Never stored. Hop-by-hop headers and `Date` are never stored either way. @default ["set-cookie"] */
  deny?: readonly string[];
  /** When set, only these are stored (after `deny` is applied). @default undefined (all but denied) */
  allow?: readonly string[];
}

/**
 * Options of the idempotency engine. Every adapter takes these.
 * Durations are milliseconds; sizes are bytes.
 */
export interface IdempotencyOptions {
  /** Where records live. Build one with `createStore(url)` or pass any {@link IdempotencyStore}. */
  store: IdempotencyStore;
  /** Methods the engine guards; any other method passes through untouched. @default ["POST", "PATCH"] */
  methods?: readonly string[];
  /** Request header that carries the key. @default "Idempotency-Key" */
  header?: string;
  /** Longest accepted key, in characters. @default 128 */
  maxKeyLength?: number;
  /** Reject guarded requests without a key (400) instead of passing them through. @default false */
  required?: boolean;
  /**
   * Custom key extractor, used instead of the header. Return undefined when the request has
   * no key. The result is validated like a header value (length, printable ASCII).
   * The request body is buffered and available as `request.body` when this is set.
   * @default undefined (read the `header`)
   */
  key?: (request: IncomingRequest) => string | undefined | Promise<string | undefined>;
  /**
   * Take the key from a field of a JSON request body instead of the header: a member of the
   * top-level object (`"idempotency_key"`) or a JSON pointer (`"/meta/idempotency_key"`).
   * A body that is not JSON or lacks the field (or holds `null`) has no key; a field that is
   * not a valid key string gets 400 `invalid-key`, like a bad header. Shorthand for
   * `key: jsonBodyKey(field)`; not together with `key`.
   * @default undefined (read the `header`)
   */
  keyJson?: string;
  /**
   * Which partition a record belongs to, so that two credentials or tenants never see each
   * other's records. @default a SHA-256 hash of the `scopeHeader` value; requests without it share one anonymous scope
   */
  scope?: (request: IncomingRequest) => string | Promise<string>;
  /** Header whose value is hashed into the default scope. @default "Authorization" */
  scopeHeader?: string;
  /**
   * Name of a session cookie whose value is hashed into the default scope, for sites that
   * authenticate browsers with a cookie: a request that carries it is scoped by it, one
   * without it by `scopeHeader`. Case-sensitive, like cookie names.
   * @default undefined (cookies do not scope)
   */
  scopeCookie?: string;
  /**
   * What goes into the fingerprint, or a function that computes it (it must return a
   * non-empty string; a request for which it does not fails like a throwing callback).
   * @default { method: true, path: true, body: true }
   */
  fingerprint?: FingerprintParts | ((request: IncomingRequest) => string | Promise<string>);
  /** Same key with another fingerprint: `"reject"` answers 422, `"ignore"` replays the original. @default "reject" */
  mismatch?: "reject" | "ignore";
  /** How long a duplicate waits for an in-flight original before it gets 409; 0 answers 409 at once. @default 0 */
  wait?: number;
  /** How long a completed record is replayed. @default 86_400_000 (24 h) */
  ttl?: number;
  /** In-flight lease; a live execution renews it, a dead one lets it lapse. @default 60_000 (60 s) */
  lease?: number;
  /** Header added to every replayed response. @default "X-Idempotency-Replayed" */
  replayHeader?: string;
  /** Which response headers are stored. @default { deny: ["set-cookie"] } */
  responseHeaders?: ResponseHeaderPolicy;
  /**
   * Which final statuses are stored; the key is released for the others so a retry executes
   * again. Replaces the default rule; build on it with {@link defaultShouldStore}. A response
   * carrying `storeHeader: no` is never stored, whatever this says.
   * @default status < 500, and not one that means "try again" (408, 409, 425, 429) or "never ran" (401, 403, 404, 405, 411, 413, 414, 415, 431)
   */
  shouldStore?: (status: number) => boolean;
  /**
   * Response header by which a handler (or the gateway's upstream) says "do not keep this
   * answer": with the value `no`, the answer is sent but not stored, and the key is released
   * so a retry executes again. It is removed before the response reaches the client.
   * @default "X-Idempotency-Store"
   */
  storeHeader?: string;
  /** A response of known length up to this size is stored before it is sent. @default 1_048_576 (1 MiB) */
  storeBeforeSendBytes?: number;
  /** Responses larger than this are delivered but their body is not stored (see docs). @default 104_857_600 (100 MiB) */
  maxBodyBytes?: number;
  /**
   * Largest request body buffered whole for the fingerprint (a request without a key is
   * handed on unread). A larger body with a key streams on to the handler (or the gateway's
   * upstream) while it is hashed, up to `maxUploadBytes`; it gets 413 instead when a `key` or
   * `fingerprint` callback needs the whole body. @default 10_485_760 (10 MiB)
   */
  maxRequestBodyBytes?: number;
  /**
   * Largest request body with a key that streams on, hashed on the way, when it is over
   * `maxRequestBodyBytes`; memory stays bounded whatever the size. A body that announces
   * more (`Content-Length`) gets 413 before its key is claimed; one that grows past it is
   * cut off and its key released. A whole number of bytes, or `Infinity`.
   * @default Infinity (no cap)
   */
  maxUploadBytes?: number;
  /**
   * Shape of oncely's own error answers (400, 409, 413, 422, 503; the gateway's 502/504):
   * `"problem"` (RFC 9457 problem+json), `"stripe"` (`{"error": {"type", "code", "message"}}`,
   * which Stripe's SDKs raise as their own errors), or a function of the problem whose result
   * is sent as JSON. @default "problem"
   */
  errorFormat?: ErrorFormat;
  /** When the store fails: `"closed"` answers 503, `"open"` executes without deduplication. @default "closed" */
  onStoreError?: "closed" | "open";
  /** `Retry-After` seconds on 409 (in flight) and 503 (store unavailable). @default 1 */
  retryAfter?: number;
  /** Callbacks for metering and logging; a hook that throws never affects the request. @default {} */
  hooks?: IdempotencyHooks;
}

/** {@link IdempotencyOptions} with every default applied and every value checked. */
export interface ResolvedOptions {
  readonly store: IdempotencyStore;
  readonly methods: ReadonlySet<string>;
  /** Lower-cased. */
  readonly header: string;
  readonly maxKeyLength: number;
  readonly required: boolean;
  /** `key`, or the extractor of `keyJson`. */
  readonly key: KeyExtractor | undefined;
  /** Where a request carries its key, for the `key-required` answer: "the Idempotency-Key header". */
  readonly keyLocation: string;
  readonly scope: IdempotencyOptions["scope"];
  /** Lower-cased. */
  readonly scopeHeader: string;
  /** As given: cookie names are case-sensitive. */
  readonly scopeCookie: string | undefined;
  readonly fingerprint: Required<FingerprintParts> | ((request: IncomingRequest) => string | Promise<string>);
  readonly mismatch: "reject" | "ignore";
  readonly wait: number;
  readonly ttl: number;
  readonly lease: number;
  readonly replayHeader: string;
  readonly deniedHeaders: ReadonlySet<string>;
  readonly allowedHeaders: ReadonlySet<string> | undefined;
  readonly shouldStore: (status: number) => boolean;
  /** Lower-cased. */
  readonly storeHeader: string;
  readonly storeBeforeSendBytes: number;
  readonly maxBodyBytes: number;
  readonly maxRequestBodyBytes: number;
  /** `Infinity` for no cap. */
  readonly maxUploadBytes: number;
  readonly errorFormat: ErrorFormat;
  readonly onStoreError: "closed" | "open";
  readonly retryAfter: number;
  readonly hooks: IdempotencyHooks;
  /** Size of the body chunks written to the store while a response streams. */
  readonly chunkBytes: number;
}

/** Statuses that say "try again", so storing them would pin a transient failure. */
const TRANSIENT_STATUSES = new Set([408, 409, 425, 429]);

/**
 * Refusals of a request's credentials, target, method or form, answered before anything
 * runs: storing one would replay the refusal to a corrected retry (the fix — a credential,
 * a `Content-Type`, a smaller body — is often outside the fingerprint) for the whole `ttl`.
 * docs/semantics.md argues why 400 and 422 are not in this set.
 */
const NEVER_RAN_STATUSES = new Set([401, 403, 404, 405, 411, 413, 414, 415, 431]);

/**
 * The default {@link IdempotencyOptions.shouldStore}: final responses below 500, except
 * those that say "try again" (408, 409, 425, 429) or "never ran" (401, 403, 404, 405, 411,
 * 413, 414, 415, 431).
 * @example shouldStore: (status) => defaultShouldStore(status) && status !== 422
 */
export function defaultShouldStore(status: number): boolean {
  return status < 500 && !TRANSIENT_STATUSES.has(status) && !NEVER_RAN_STATUSES.has(status);
}

/** The value of {@link IdempotencyOptions.storeHeader} that keeps an answer out of the store. */
export const DO_NOT_STORE = "no";

/** Every default in one place; the README's option table mirrors this object. */
export const DEFAULTS = {
  methods: ["POST", "PATCH"],
  header: "Idempotency-Key",
  maxKeyLength: 128,
  required: false,
  scopeHeader: "Authorization",
  mismatch: "reject",
  wait: 0,
  ttl: 24 * 60 * 60 * 1000,
  lease: 60_000,
  replayHeader: "X-Idempotency-Replayed",
  storeHeader: "X-Idempotency-Store",
  deniedHeaders: ["set-cookie"],
  storeBeforeSendBytes: 1024 * 1024,
  maxBodyBytes: 100 * 1024 * 1024,
  maxRequestBodyBytes: 10 * 1024 * 1024,
  maxUploadBytes: Number.POSITIVE_INFINITY,
  errorFormat: "problem",
  onStoreError: "closed",
  retryAfter: 1,
  chunkBytes: 1024 * 1024,
} as const;

/** Checks every option and applies the defaults; throws {@link InvalidOptionError} with the option's name. */
export function resolveOptions(options: IdempotencyOptions): ResolvedOptions {
  if (typeof options !== "object" || options === null)
    throw new InvalidOptionError("options must be an object");
  const { store } = options;
  if (!isStore(store)) {
    throw new InvalidOptionError("options.store must be an IdempotencyStore (see createStore(url))");
  }
  const fingerprint = options.fingerprint;
  const storeBeforeSendBytes = nonNegative(
    "storeBeforeSendBytes",
    options.storeBeforeSendBytes,
    DEFAULTS.storeBeforeSendBytes,
  );
  const maxBodyBytes = nonNegative("maxBodyBytes", options.maxBodyBytes, DEFAULTS.maxBodyBytes);
  const header = headerName("header", options.header ?? DEFAULTS.header);
  return {
    store,
    methods: new Set(stringList("methods", options.methods ?? DEFAULTS.methods).map((m) => m.toUpperCase())),
    header,
    maxKeyLength: positiveInteger("maxKeyLength", options.maxKeyLength, DEFAULTS.maxKeyLength),
    required: flag("required", options.required, DEFAULTS.required),
    key: keyExtractor(options),
    keyLocation: keyLocation(options, header),
    scope: optionalFunction("scope", options.scope),
    scopeHeader: headerName("scopeHeader", options.scopeHeader ?? DEFAULTS.scopeHeader),
    scopeCookie:
      options.scopeCookie === undefined ? undefined : cookieName("scopeCookie", options.scopeCookie),
    fingerprint:
      typeof fingerprint === "function"
        ? fingerprint
        : {
            method: flag("fingerprint.method", fingerprint?.method, true),
            path: flag("fingerprint.path", fingerprint?.path, true),
            body: flag("fingerprint.body", fingerprint?.body, true),
          },
    mismatch: oneOf("mismatch", options.mismatch, ["reject", "ignore"], DEFAULTS.mismatch),
    wait: nonNegative("wait", options.wait, DEFAULTS.wait),
    ttl: positiveInteger("ttl", options.ttl, DEFAULTS.ttl),
    lease: positiveInteger("lease", options.lease, DEFAULTS.lease),
    replayHeader: headerName("replayHeader", options.replayHeader ?? DEFAULTS.replayHeader),
    deniedHeaders: new Set(
      stringList("responseHeaders.deny", options.responseHeaders?.deny ?? DEFAULTS.deniedHeaders).map((h) =>
        h.toLowerCase(),
      ),
    ),
    allowedHeaders: options.responseHeaders?.allow
      ? new Set(
          stringList("responseHeaders.allow", options.responseHeaders.allow).map((h) => h.toLowerCase()),
        )
      : undefined,
    shouldStore: optionalFunction("shouldStore", options.shouldStore) ?? defaultShouldStore,
    storeHeader: headerName("storeHeader", options.storeHeader ?? DEFAULTS.storeHeader),
    storeBeforeSendBytes,
    maxBodyBytes,
    maxRequestBodyBytes: nonNegative(
      "maxRequestBodyBytes",
      options.maxRequestBodyBytes,
      DEFAULTS.maxRequestBodyBytes,
    ),
    maxUploadBytes: byteCap("maxUploadBytes", options.maxUploadBytes, DEFAULTS.maxUploadBytes),
    errorFormat:
      typeof options.errorFormat === "function"
        ? options.errorFormat
        : oneOf<"problem" | "stripe">(
            "errorFormat",
            options.errorFormat,
            ["problem", "stripe"],
            DEFAULTS.errorFormat,
          ),
    onStoreError: oneOf("onStoreError", options.onStoreError, ["closed", "open"], DEFAULTS.onStoreError),
    retryAfter: positiveInteger("retryAfter", options.retryAfter, DEFAULTS.retryAfter),
    hooks: options.hooks ?? {},
    chunkBytes: DEFAULTS.chunkBytes,
  };
}

/** True when `value` has every method of the {@link IdempotencyStore} contract the engine calls. */
export function isStore(value: unknown): value is IdempotencyStore {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return ["claim", "renew", "release", "appendChunk", "complete", "get", "readChunk"].every(
    (method) => typeof candidate[method] === "function",
  );
}

function flag(name: string, value: boolean | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw new InvalidOptionError(`options.${name} must be true or false`);
  return value;
}

/** Checks an optional whole number > 0 (durations in ms, sizes). */
export function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidOptionError(`options.${name} must be a positive whole number, got ${String(value)}`);
  }
  return value;
}

/** Checks an optional whole number ≥ 0. */
export function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidOptionError(`options.${name} must be a whole number ≥ 0, got ${String(value)}`);
  }
  return value;
}

/** Checks an optional size cap: a whole number of bytes ≥ 0, or `Infinity` for none. */
export function byteCap(name: string, value: number | undefined, fallback: number): number {
  if (value === Number.POSITIVE_INFINITY) return value;
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
    throw new InvalidOptionError(
      `options.${name} must be a whole number of bytes or Infinity, got ${String(value)}`,
    );
  }
  return value ?? fallback;
}

/** Checks an optional string option against its allowed values. */
export function oneOf<T extends string>(
  name: string,
  value: T | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value)) {
    throw new InvalidOptionError(`options.${name} must be one of ${allowed.map((a) => `"${a}"`).join(", ")}`);
  }
  return value;
}

function stringList(name: string, value: readonly string[]): string[] {
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string" || item.length === 0)) {
    throw new InvalidOptionError(`options.${name} must be an array of non-empty strings`);
  }
  return [...value];
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function headerName(name: string, value: string): string {
  if (typeof value !== "string" || !TOKEN.test(value)) {
    throw new InvalidOptionError(
      `options.${name} must be a valid HTTP header name, got ${JSON.stringify(value)}`,
    );
  }
  return value.toLowerCase();
}

/** A cookie name is an RFC 9110 token, like a header name, but keeps its case. */
function cookieName(name: string, value: string): string {
  if (typeof value !== "string" || !TOKEN.test(value)) {
    throw new InvalidOptionError(`options.${name} must be a valid cookie name, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Checks an optional callback option. */
export function optionalFunction<T>(name: string, value: T | undefined): T | undefined {
  if (value !== undefined && typeof value !== "function") {
    throw new InvalidOptionError(`options.${name} must be a function`);
  }
  return value;
}

function keyLocation(options: IdempotencyOptions, header: string): string {
  if (options.keyJson !== undefined) return `the JSON body field ${options.keyJson}`;
  if (options.key !== undefined) return "the place this API expects it";
  return `the ${displayName(header)} header`;
}

/** `idempotency-key` as people write it: `Idempotency-Key`. */
function displayName(header: string): string {
  return header.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());
}

/** The key extractor of `key` or `keyJson`, which exclude each other. */
function keyExtractor(options: IdempotencyOptions): KeyExtractor | undefined {
  const key = optionalFunction("key", options.key);
  if (options.keyJson === undefined) return key;
  if (key) throw new InvalidOptionError("options.key and options.keyJson exclude each other; set one");
  return jsonBodyKey(options.keyJson);
}
