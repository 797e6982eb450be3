/**
 * `oncely/engine`: the framework-free engine, for writing an adapter for another framework.
 *
 * An adapter turns its framework's request into an {@link IncomingRequest}, asks
 * {@link IdempotencyEngine.begin} for a {@link Decision}, and carries it out: hand the
 * request on, answer the problem, stream the {@link Replay}, or run the handler and report
 * its response to the {@link Execution} (`respond`, `write`, `finish`, or `fail`).
 *
 * @example
 * import { createEngine } from "oncely/engine";
 *
 * const engine = createEngine({ store });
 * const decision = await engine.begin({ method: "POST", path: "/orders", header: (name) => lines(name), body });
 * @module
 */
export {
  createEngine,
  type Decision,
  IdempotencyEngine,
  type PassReason,
  type RespondReason,
} from "./core/engine.js";
export type { ErrorFormat, ProblemDetails } from "./core/error-format.js";
export { Execution, type ResponsePlan } from "./core/execution.js";
export type {
  ExecutedEvent,
  IdempotencyHooks,
  KeyEvent,
  ReleasedEvent,
  ReleaseReason,
  ReplayedEvent,
  StoreErrorEvent,
} from "./core/hooks.js";
export {
  DEFAULTS,
  type FingerprintParts,
  type IdempotencyOptions,
  type ResolvedOptions,
  type ResponseHeaderPolicy,
} from "./core/options.js";
export {
  PROBLEM_TYPE_BASE,
  PROBLEMS,
  type ProblemResponse,
  type ProblemSlug,
  problem,
} from "./core/problems.js";
export { BODY_OMITTED_HEADER, type Replay, ReplayInterruptedError } from "./core/replay.js";
export type { IncomingRequest } from "./core/request.js";
export type { HeaderPair } from "./store.js";
