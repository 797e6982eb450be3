/**
 * `oncely`: the store contract, `createStore(url)`, options, types and errors.
 * Framework adapters live in `oncely/node`, `oncely/express`, `oncely/fastify`,
 * `oncely/koa`, `oncely/nestjs`, `oncely/hono` and `oncely/fetch`; the engine, for writing
 * adapters, in `oncely/engine`; the store conformance suite in `oncely/testing`.
 * @module
 */
/** @deprecated import the engine from `oncely/engine`; the root entry will stop re-exporting it. */
export { createEngine, type Decision, IdempotencyEngine, type PassReason } from "./core/engine.js";
export type { ErrorFormat, ProblemDetails } from "./core/error-format.js";
export {
  ClientAbortedError,
  CorruptRecordError,
  DecryptionFailedError,
  IncompatibleDependencyError,
  InvalidOptionError,
  InvalidStoreUrlError,
  isOncelyError,
  MissingDependencyError,
  OncelyError,
  StoreClosedError,
  StoreUnavailableError,
  UnknownEncryptionKeyError,
  UnsupportedServerError,
  UploadTooLargeError,
} from "./core/errors.js";
/** @deprecated import from `oncely/engine`. */
export { Execution, type ResponsePlan } from "./core/execution.js";
export { ANONYMOUS_SCOPE } from "./core/hashing.js";
export type {
  ExecutedEvent,
  IdempotencyHooks,
  KeyEvent,
  ReleasedEvent,
  ReleaseReason,
  ReplayedEvent,
  StoreErrorEvent,
} from "./core/hooks.js";
export { jsonBodyKey, type KeyExtractor } from "./core/json-key.js";
export {
  DEFAULTS,
  defaultShouldStore,
  type FingerprintParts,
  type IdempotencyOptions,
  type ResponseHeaderPolicy,
} from "./core/options.js";
export { PROBLEM_TYPE_BASE, PROBLEMS, type ProblemResponse, type ProblemSlug } from "./core/problems.js";
export { BODY_OMITTED_HEADER, type Replay, ReplayInterruptedError } from "./core/replay.js";
export type { IncomingRequest } from "./core/request.js";
export type * from "./store.js";
export { isInspectable } from "./store.js";
export { type CreateStoreOptions, createStore } from "./stores/create-store.js";
export { type EncryptionKey, type EncryptionOptions, encryptStore } from "./stores/encrypt-store.js";
