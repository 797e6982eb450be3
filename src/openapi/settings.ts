/**
 * The engine options an OpenAPI description depends on, with the engine's defaults applied.
 * @module
 */
import { DEFAULTS, type IdempotencyOptions, oneOf, positiveInteger } from "../core/options.js";

/**
 * Options of {@link idempotencyOpenApi}: the engine options the service runs with (so that
 * the descriptions state its real TTL, key rules and scope), minus the store.
 */
export interface OpenApiOptions extends Partial<Omit<IdempotencyOptions, "store" | "hooks">> {
  /**
   * Describe the gateway (`oncely serve`): adds its own problems (502 `upstream-unreachable`,
   * 504 `upstream-timeout`). @default false
   */
  gateway?: boolean;
}

/** What the description states, every default applied. */
export interface DescribedSettings {
  readonly header: string;
  readonly maxKeyLength: number;
  readonly required: boolean;
  readonly customKey: boolean;
  readonly customShouldStore: boolean;
  readonly methods: readonly string[];
  readonly scope:
    | { readonly kind: "custom" }
    | { readonly kind: "header"; readonly name: string; readonly cookie: string | undefined };
  readonly mismatch: "reject" | "ignore";
  readonly ttl: number;
  readonly wait: number;
  readonly replayHeader: string;
  readonly maxRequestBodyBytes: number;
  /** `Infinity` for no cap. */
  readonly maxUploadBytes: number;
  /** Whether the engine reads guarded bodies (for the fingerprint or a custom key). */
  readonly readsBody: boolean;
  /** Whether a body over `maxRequestBodyBytes` streams on (the default fingerprint, no key or fingerprint function) rather than getting 413. */
  readonly streamsBody: boolean;
  readonly onStoreError: "closed" | "open";
  readonly retryAfter: number;
  /** The shape of error answers; `custom` for a function, whose output the description cannot know. */
  readonly errorFormat: "problem" | "stripe" | "custom";
  readonly gateway: boolean;
}

/** Applies the engine's defaults; throws `InvalidOptionError` for a number out of range. */
export function describedSettings(options: OpenApiOptions = {}): DescribedSettings {
  return {
    header: options.header ?? DEFAULTS.header,
    maxKeyLength: positiveInteger("maxKeyLength", options.maxKeyLength, DEFAULTS.maxKeyLength),
    required: options.required ?? DEFAULTS.required,
    customKey: options.key !== undefined,
    customShouldStore: options.shouldStore !== undefined,
    methods: (options.methods ?? DEFAULTS.methods).map((method) => method.toUpperCase()),
    scope: options.scope
      ? { kind: "custom" }
      : { kind: "header", name: options.scopeHeader ?? DEFAULTS.scopeHeader, cookie: options.scopeCookie },
    mismatch: options.mismatch ?? DEFAULTS.mismatch,
    ttl: positiveInteger("ttl", options.ttl, DEFAULTS.ttl),
    wait: options.wait ?? DEFAULTS.wait,
    replayHeader: options.replayHeader ?? DEFAULTS.replayHeader,
    maxRequestBodyBytes: options.maxRequestBodyBytes ?? DEFAULTS.maxRequestBodyBytes,
    maxUploadBytes: options.maxUploadBytes ?? DEFAULTS.maxUploadBytes,
    readsBody:
      options.key !== undefined ||
      typeof options.fingerprint === "function" ||
      options.fingerprint?.body !== false,
    streamsBody:
      options.key === undefined &&
      options.keyJson === undefined &&
      typeof options.fingerprint !== "function" &&
      options.fingerprint?.body !== false,
    onStoreError: options.onStoreError ?? DEFAULTS.onStoreError,
    retryAfter: positiveInteger("retryAfter", options.retryAfter, DEFAULTS.retryAfter),
    errorFormat:
      typeof options.errorFormat === "function"
        ? "custom"
        : oneOf<"problem" | "stripe">("errorFormat", options.errorFormat, ["problem", "stripe"], "problem"),
    gateway: options.gateway ?? false,
  };
}

/** `86_400_000` → `24 hours`, `90_000` → `90 seconds`: exact, in the largest whole unit. */
export function humanDuration(ms: number): string {
  for (const [unit, size, fewest] of UNITS) {
    const count = ms / size;
    if (Number.isInteger(count) && count >= fewest) return `${count} ${unit}${count === 1 ? "" : "s"}`;
  }
  return `${ms} milliseconds`;
}

/** Unit, its size, and the fewest of it used: `24 hours` reads better than `1 day`. */
const UNITS = [
  ["day", 86_400_000, 2],
  ["hour", 3_600_000, 1],
  ["minute", 60_000, 2],
  ["second", 1000, 1],
] as const;
