// Figures of a soak run: latency percentiles and the growth of memory once warm.

/** A memory sample of a target process, at `atMs` since the traffic began. */
export interface Sample {
  readonly atMs: number;
  readonly rss: number;
  readonly heapUsed: number;
}

export const MIB = 1024 * 1024;

/** The `p`-th percentile (0…100) of `values` by nearest rank; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/** Each heap sample's window, in ms: the lowest heap used in a window is its floor. */
export const FLOOR_WINDOW_MS = 30_000;

/**
 * How fast memory grows once warm, in MiB per minute: the least-squares slope over the
 * samples after the first `warmup` fraction of the run (NaN with fewer than three points).
 * RSS is fitted sample by sample. The heap is fitted through its floor, the lowest heap used
 * of each {@link FLOOR_WINDOW_MS} window: the heap rises and falls with every garbage
 * collection, and what survives them — the floor — is what a leak raises.
 */
export function growthPerMinute(
  samples: readonly Sample[],
  field: "rss" | "heapUsed",
  durationMs: number,
  warmup: number,
): number {
  const warm = samples.filter((sample) => sample.atMs >= durationMs * warmup);
  const points =
    field === "rss" ? warm.map((sample) => ({ atMs: sample.atMs, bytes: sample.rss })) : floors(warm);
  if (points.length < 3) return Number.NaN;
  const xs = points.map((point) => point.atMs / 60_000);
  const ys = points.map((point) => point.bytes / MIB);
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  const mx = mean(xs);
  const my = mean(ys);
  let covariance = 0;
  let variance = 0;
  for (let i = 0; i < xs.length; i++) {
    covariance += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    variance += ((xs[i] as number) - mx) ** 2;
  }
  return covariance / variance;
}

/** The lowest heap used of each window, placed at the window's middle. */
function floors(samples: readonly Sample[]): Array<{ atMs: number; bytes: number }> {
  const windows = new Map<number, number>();
  for (const sample of samples) {
    const window = Math.floor(sample.atMs / FLOOR_WINDOW_MS);
    windows.set(window, Math.min(windows.get(window) ?? Number.POSITIVE_INFINITY, sample.heapUsed));
  }
  return [...windows].map(([window, bytes]) => ({ atMs: (window + 0.5) * FLOOR_WINDOW_MS, bytes }));
}

/** `ms` as m:ss. */
export function clock(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}
