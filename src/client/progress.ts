/**
 * Progress of a batch: a redrawn bar on a terminal, plain periodic lines anywhere else
 * (CI logs, files), and the closing summary.
 * @module
 */

/** How progress is shown: `"auto"` picks `"bar"` on a TTY and `"lines"` otherwise; `false` is silent. */
export type ProgressMode = "auto" | "bar" | "lines" | false;

/** Where progress goes; `isTTY` and `columns` are read when present. */
export interface ProgressOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** What the batch has done so far. */
export interface BatchCounts {
  /** Items the worker completed and the server executed. */
  executed: number;
  /**
   * Items whose answer was a replay: the server had executed them before. Those the worker
   * failed on (a replayed error) are counted here, not in `failed`, and are not checkpointed.
   */
  replayed: number;
  /** Items the checkpoint already held. */
  skipped: number;
  /** Items whose key or worker failed. */
  failed: number;
  /** Items in flight when the batch was aborted; they run again next time. */
  interrupted: number;
}

/** Receives the batch's events and shows them. */
export interface ProgressReporter {
  update(counts: Readonly<BatchCounts>): void;
  /** A line that must stay visible above the bar, such as a failure. */
  log(line: string): void;
  /** Stops redrawing and prints the closing lines. */
  finish(lines: readonly string[]): void;
}

/** For `progress: false`. */
const SILENT: ProgressReporter = { update() {}, log() {}, finish() {} };

const BAR_REDRAW_MS = 100;
const BAR_WIDTH = 24;

/**
 * Builds the reporter for `mode`.
 * @param total how many items there are, when known
 * @param interval milliseconds between two lines in `"lines"` mode
 */
export function createProgress(
  mode: ProgressMode,
  output: ProgressOutput,
  total: number | undefined,
  interval: number,
): ProgressReporter {
  if (mode === false) return SILENT;
  const bar = mode === "bar" || (mode === "auto" && output.isTTY === true);
  const started = Date.now();
  let latest: Readonly<BatchCounts> = { executed: 0, replayed: 0, skipped: 0, failed: 0, interrupted: 0 };
  let drawn = 0;

  const status = () => describeProgress(latest, total, Date.now() - started);
  const clear = () => (bar ? output.write("\r\x1b[2K") : undefined);
  const draw = () => {
    drawn = Date.now();
    if (bar)
      output.write(`\r\x1b[2K${renderBar(latest, total)} ${status()}`.slice(0, (output.columns ?? 120) - 1));
    else output.write(`${status()}\n`);
  };
  const timer = bar ? undefined : setInterval(draw, interval).unref();

  return {
    update(counts) {
      latest = counts;
      if (bar && Date.now() - drawn >= BAR_REDRAW_MS) draw();
    },
    log(line) {
      clear();
      output.write(`${line}\n`);
      if (bar) draw();
    },
    finish(lines) {
      clearInterval(timer);
      clear();
      for (const line of lines) output.write(`${line}\n`);
    },
  };
}

function renderBar(counts: Readonly<BatchCounts>, total: number | undefined): string {
  if (!total) return "";
  const filled = Math.min(BAR_WIDTH, Math.round((finished(counts) / total) * BAR_WIDTH));
  return `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}]`;
}

function finished(counts: Readonly<BatchCounts>): number {
  return counts.executed + counts.replayed + counts.skipped + counts.failed;
}

/** `"312/1000 (31%): 300 executed, 2 replayed, 10 skipped, 0 failed · 45.2/s"` */
function describeProgress(counts: Readonly<BatchCounts>, total: number | undefined, elapsed: number): string {
  const done = finished(counts);
  const share = total ? ` (${Math.floor((done / total) * 100)}%)` : "";
  const rate = elapsed > 0 ? ((done - counts.skipped) / elapsed) * 1000 : 0;
  return (
    `${done}${total === undefined ? "" : `/${total}`}${share}: ${counts.executed} executed, ${counts.replayed} replayed, ` +
    `${counts.skipped} skipped, ${counts.failed} failed · ${rate.toFixed(1)}/s`
  );
}
