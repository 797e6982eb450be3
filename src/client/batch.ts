/**
 * `runBatch`: a resumable batch of idempotent calls with bounded concurrency.
 * @module
 */
import { InvalidOptionError } from "../core/errors.js";
import { type Checkpoint, memoryCheckpoint } from "./checkpoint.js";
import { idempotentFetch, isReplay } from "./fetch.js";
import type { IdempotentFetchOptions } from "./options.js";
import { type BatchCounts, createProgress, type ProgressMode, type ProgressOutput } from "./progress.js";

/** What a worker gets besides its item. */
export interface BatchContext {
  /** The item's key: its checkpoint entry and the idempotency key of {@link BatchContext.fetch}. */
  readonly key: string;
  /** Aborts when the batch is aborted; pass it to anything slow the worker does. */
  readonly signal: AbortSignal;
  /**
   * `idempotentFetch` with the item's key, the batch's `fetch` options and its signal; the
   * batch counts the item as replayed when an answer is a replay. `options.key` overrides
   * the key, for workers that make several different calls per item.
   */
  fetch(
    input: string | URL | Request,
    init?: RequestInit,
    options?: IdempotentFetchOptions,
  ): Promise<Response>;
}

/** Options of {@link runBatch}. */
export interface BatchOptions<T> {
  /**
   * The item's key: the checkpoint records it, and it is the idempotency key of
   * `context.fetch`. Derive it from the item (see the key helpers), never at random, or a
   * rerun cannot recognise finished items. A key that cannot be computed fails the item.
   */
  key: (item: T) => string | Promise<string>;
  /** Items run at the same time. @default 8 */
  concurrency?: number;
  /** Which items are done, across runs; see `openJournal`. @default a fresh `memoryCheckpoint()` */
  checkpoint?: Checkpoint;
  /** `idempotentFetch` options of `context.fetch`. @default {} */
  fetch?: Omit<IdempotentFetchOptions, "key">;
  /** Stops starting items and aborts those in flight; the batch then resolves with `aborted: true`. */
  signal?: AbortSignal;
  /** How progress is shown; `"auto"` draws a bar on a TTY and prints plain lines elsewhere. @default "auto" */
  progress?: ProgressMode;
  /** Where progress, failures and the summary are written. @default process.stderr */
  output?: ProgressOutput;
  /** Milliseconds between two progress lines when not on a TTY. @default 2000 */
  progressInterval?: number;
  /** How an item is named in failure lines. @default its key */
  label?: (item: T) => string;
  /** How many items there are, for the percentage. @default `items.length` for an array, else unknown */
  total?: number;
}

/** An item that failed, with the reason. */
export interface BatchFailure<T> {
  readonly item: T;
  /** Undefined when the key itself could not be computed. */
  readonly key: string | undefined;
  readonly error: unknown;
  /**
   * True when the worker failed on a replayed answer: the server answered this key before
   * and repeats that answer, so the failure is not new. Such an item counts as `replayed`,
   * not `failed`, and stays out of the checkpoint.
   */
  readonly replayed: boolean;
}

/** How a batch ended. */
export interface BatchSummary<T> extends Readonly<BatchCounts> {
  readonly failures: ReadonlyArray<BatchFailure<T>>;
  /** True when `signal` aborted the batch before every item ran. */
  readonly aborted: boolean;
  /** Things that look wrong, such as a checkpoint that does not seem to work. */
  readonly warnings: readonly string[];
  /** Milliseconds from start to end. */
  readonly elapsed: number;
}

/**
 * Replays beyond this share of the items that called the server suggest the checkpoint is
 * not doing its job: a finished item should be skipped, not replayed.
 */
const REPLAY_WARNING_SHARE = 0.2;

/**
 * Runs `worker` on every item not yet in the checkpoint, `concurrency` at a time, and
 * records each item it completes. A failed item is reported and left out of the
 * checkpoint; the batch goes on.
 *
 * Run it again after a crash or an abort and it skips what was recorded. The items that
 * were in flight run again with the same key, so an idempotent server replays those it
 * had finished instead of executing them twice.
 *
 * @param items any iterable or async iterable; pulled lazily, one per free slot
 * @param worker does one item; it throws (or rejects) to fail it
 * @returns counts of executed, replayed, skipped, failed and interrupted items; it
 *   rejects only when the checkpoint or `items` itself fails
 * @example
 * const checkpoint = openJournal(".oncely/invoices.journal");
 * const summary = await runBatch(invoices, async (invoice, { fetch }) => {
 *   const response = await fetch(`${api}/invoices/${invoice.id}/send`, { method: "POST" });
 *   if (!response.ok) throw new Error(`answered ${response.status}`);
 * }, { key: (invoice) => operationKey("send-invoice", invoice.id, invoice.issuedAt), checkpoint });
 * await checkpoint.close();
 */
export async function runBatch<T>(
  items: Iterable<T> | AsyncIterable<T>,
  worker: (item: T, context: BatchContext) => void | Promise<void>,
  options: BatchOptions<T>,
): Promise<BatchSummary<T>> {
  const {
    key: keyOf,
    concurrency = 8,
    checkpoint = memoryCheckpoint(),
    fetch: fetchOptions = {},
    signal,
    progress: mode = "auto",
    output = process.stderr,
    progressInterval = 2000,
    label,
    total = Array.isArray(items) ? items.length : undefined,
  } = options;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new InvalidOptionError(`concurrency must be a positive integer, got ${concurrency}`);
  }
  const started = Date.now();
  const counts: BatchCounts = { executed: 0, replayed: 0, skipped: 0, failed: 0, interrupted: 0 };
  const failures: BatchFailure<T>[] = [];
  const progress = createProgress(mode, output, total, progressInterval);
  // Aborted by the caller's signal, or by a failure that must end the whole batch.
  const stop = new AbortController();
  const onAbort = () => stop.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  if (signal?.aborted) onAbort();

  const fail = (item: T, key: string | undefined, error: unknown, replayed = false) => {
    if (replayed) counts.replayed++;
    else counts.failed++;
    failures.push({ item, key, error, replayed });
    const name = label?.(item) ?? key ?? String(item);
    progress.log(`${replayed ? "replayed error for" : "failed"} ${name}: ${messageOf(error)}`);
  };

  const runItem = async (item: T) => {
    let key: string;
    try {
      key = await keyOf(item);
    } catch (error) {
      fail(item, undefined, error);
      return;
    }
    if (checkpoint.has(key)) {
      counts.skipped++;
      return;
    }
    let replayed = false;
    const context: BatchContext = {
      key,
      signal: stop.signal,
      fetch: async (input, init = {}, overrides = {}) => {
        const linked = init.signal ? AbortSignal.any([init.signal, stop.signal]) : stop.signal;
        const response = await idempotentFetch(
          input,
          { ...init, signal: linked },
          { ...fetchOptions, key, ...overrides },
        );
        replayed ||= isReplay(response);
        return response;
      },
    };
    try {
      await worker(item, context);
    } catch (error) {
      if (stop.signal.aborted) counts.interrupted++;
      else fail(item, key, error, replayed);
      return;
    }
    checkpoint.add(key);
    if (replayed) counts.replayed++;
    else counts.executed++;
  };

  const source = pull(items);
  const lane = async () => {
    try {
      while (!stop.signal.aborted) {
        const next = await source.next();
        if (next.done) return;
        await runItem(next.value);
        progress.update(counts);
      }
    } catch (error) {
      stop.abort(error);
      throw error;
    }
  };
  const lanes = await Promise.allSettled(Array.from({ length: concurrency }, lane));
  signal?.removeEventListener("abort", onAbort);
  await source.return(undefined);
  const broken = lanes.find((lane): lane is PromiseRejectedResult => lane.status === "rejected");
  await checkpoint.flush();

  const summary: BatchSummary<T> = {
    ...counts,
    failures,
    aborted: stop.signal.aborted,
    warnings: warningsFor(counts, countReplayedErrors(failures), concurrency),
    elapsed: Date.now() - started,
  };
  progress.finish(broken ? [] : closingLines(summary));
  if (broken) throw broken.reason;
  return summary;
}

/** One shared iterator for all lanes; an async generator queues their concurrent `next()` calls. */
async function* pull<T>(items: Iterable<T> | AsyncIterable<T>): AsyncGenerator<T, void, undefined> {
  yield* items;
}

function countReplayedErrors(failures: ReadonlyArray<BatchFailure<unknown>>): number {
  return failures.reduce((count, failure) => count + (failure.replayed ? 1 : 0), 0);
}

function warningsFor(counts: Readonly<BatchCounts>, replayedErrors: number, concurrency: number): string[] {
  // Replayed errors are never checkpointed, so they say nothing about the checkpoint.
  const replayed = counts.replayed - replayedErrors;
  const called = counts.executed + replayed;
  // After a crash, up to `concurrency` items were in flight and are rightly replayed.
  if (replayed <= concurrency || replayed <= called * REPLAY_WARNING_SHARE) return [];
  return [
    `${replayed} of ${called} items that reached the server were replays: the checkpoint is probably ` +
      "not being written or read (is it the same file as on the last run?)",
  ];
}

function closingLines(summary: BatchSummary<unknown>): string[] {
  const lines = [
    `done in ${(summary.elapsed / 1000).toFixed(1)} s: ${summary.executed} executed, ${summary.replayed} replayed, ` +
      `${summary.skipped} skipped by checkpoint, ${summary.failed} failed`,
  ];
  const replayedErrors = countReplayedErrors(summary.failures);
  if (replayedErrors > 0) {
    lines.push(
      `${replayedErrors} of the replayed answers were errors the server stored earlier; ` +
        "it repeats them for as long as it keeps the key, so change the request (a new key) to try again",
    );
  }
  if (summary.aborted) {
    lines.push(`aborted: ${summary.interrupted} in flight were stopped; run again to finish the rest`);
  }
  for (const warning of summary.warnings) lines.push(`warning: ${warning}`);
  return lines;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
