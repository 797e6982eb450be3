/**
 * `oncely/client`: use idempotency keys well from the calling side.
 *
 * - Keys that stay the same across retries and restarts: {@link fileKey}, {@link contentKey},
 *   {@link objectKey}, {@link operationKey}, {@link randomKey}.
 * - {@link idempotentFetch}: `fetch` that sends one key on every attempt and retries what a
 *   retry can cure.
 * - Checkpoints that remember finished items across runs: {@link openJournal} (a file that
 *   survives `kill -9`) and {@link memoryCheckpoint}.
 * - {@link runBatch}: a resumable batch with bounded concurrency, progress and a summary.
 *
 * The guide is docs/client.md.
 * @module
 */
export {
  type BatchContext,
  type BatchFailure,
  type BatchOptions,
  type BatchSummary,
  runBatch,
} from "./batch.js";
export { type Checkpoint, memoryCheckpoint } from "./checkpoint.js";
export { CheckpointClosedError, CorruptJournalError, FetchFailedError, HttpStatusError } from "./errors.js";
export { type IdempotentResponseInfo, idempotentFetch, isReplay, responseInfo } from "./fetch.js";
export { type JournalOptions, openJournal } from "./journal.js";
export {
  contentKey,
  fileKey,
  type ObjectRef,
  type Operation,
  objectKey,
  operationKey,
  randomKey,
} from "./keys.js";
export { type IdempotentFetchOptions, isRetryableStatus, type RetryEvent } from "./options.js";
export type { BatchCounts, ProgressMode, ProgressOutput } from "./progress.js";
