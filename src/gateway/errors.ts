import { OncelyError } from "../core/errors.js";
import type { ProblemSlug } from "../core/problems.js";

/** The upstream failed before its response headers arrived; the client gets {@link problem}. */
export abstract class UpstreamError extends OncelyError {
  /** The problem+json type the client receives. */
  abstract readonly problem: Extract<ProblemSlug, `upstream-${string}`>;
}

/** The upstream could not be reached, or dropped the connection before answering (502). */
export class UpstreamUnreachableError extends UpstreamError {
  readonly problem = "upstream-unreachable" as const;

  constructor(options?: ErrorOptions) {
    super("ONCELY_UPSTREAM_UNREACHABLE", "the upstream could not be reached", options);
  }
}

/** The upstream stayed silent for longer than `upstreamTimeout` (504). */
export class UpstreamTimeoutError extends UpstreamError {
  readonly problem = "upstream-timeout" as const;

  constructor(timeoutMs: number) {
    super("ONCELY_UPSTREAM_TIMEOUT", `the upstream sent nothing for ${timeoutMs} ms`);
  }
}

// Request-body errors are the engine's: the library's adapters stream uploads too.
export { ClientAbortedError, UploadTooLargeError } from "../core/errors.js";
