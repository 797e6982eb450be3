// Runs a soak: every combination of front and store at once, each driven at a steady rate,
// their memory sampled, and every key's executions counted at the handler afterwards.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { clock, growthPerMinute, MIB, percentile, type Sample } from "./figures.js";
import { type Front, startTarget, type Target } from "./targets.js";
import { type Tally, Traffic } from "./traffic.js";

/** A store a soak runs on. */
export type SoakStore = "sqlite" | "redis";

/** How to soak. */
export interface SoakOptions {
  readonly durationMs: number;
  /** Operations launched per second on each target (a burst is one operation of several requests). */
  readonly rate: number;
  readonly combinations: ReadonlyArray<{ readonly front: Front; readonly store: SoakStore }>;
  /** Required when a combination is on Redis. */
  readonly redisUrl?: string | undefined;
  /** How often each target's memory is sampled. */
  readonly sampleMs: number;
  /** The fraction of the run left out of the growth figures while the processes warm up. */
  readonly warmup: number;
  /** Largest growth of RSS and of the heap's floor once warm, MiB per minute; undefined checks no memory. */
  readonly tolerance: { readonly rss: number; readonly heapUsed: number } | undefined;
  /** Told a line about every target at each sample: requests, outstanding operations, memory. */
  readonly progress?: ((line: string) => void) | undefined;
}

/** What a soak found on one target. */
export interface TargetResult {
  readonly name: string;
  readonly tally: Tally;
  readonly samples: readonly Sample[];
  /** Keys sent, and how many of them executed exactly once, never, or more than once. */
  readonly keys: {
    readonly sent: number;
    readonly once: number;
    readonly never: number;
    readonly more: number;
  };
  /** Executions of keys the soak never sent. */
  readonly strangers: number;
  /**
   * Keys whose handler ran on a request that had lost its body: the client left while the
   * key was claimed (a known defect of the Node HTTP layer, see docs/guarantees.md). Reported,
   * not failed, until it is fixed.
   */
  readonly bodiesLost: number;
  /** Requests and executions the target still held once the traffic ended, where it tells. */
  readonly leftovers: { readonly requests: number; readonly executions: number } | undefined;
  readonly crashed: string | undefined;
  readonly growth: { readonly rss: number; readonly heapUsed: number };
  /** Why the target failed the soak; empty when it passed. */
  readonly failures: readonly string[];
}

/** Runs the soak on every combination at once and reports on each. */
export async function runSoak(options: SoakOptions): Promise<TargetResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "oncely-soak-"));
  const run = randomUUID().slice(0, 8);
  const targets: Target[] = [];
  try {
    for (const { front, store } of options.combinations)
      targets.push(await startTarget(front, store, storeUrl(store, front, dir, run, options), 10 * 60_000));
    const samples = targets.map((): Sample[] => []);
    const traffic = targets.map(
      (target) =>
        new Traffic(target.url, target.waitingPath, `soak-${run}-${target.name.replaceAll(" ", "-")}`),
    );
    const start = performance.now();
    const sampling = sampleMemory(targets, samples, start, options, (index) => {
      const tally = traffic[index]?.tally;
      const sample = samples[index]?.at(-1);
      options.progress?.(
        `${clock(performance.now() - start)} ${targets[index]?.name}: ${tally?.requests} requests, ` +
          `${traffic[index]?.outstanding} outstanding, ${tally?.unexpected} unexpected, ` +
          `RSS ${((sample?.rss ?? 0) / MIB).toFixed(0)} MiB, heap ${((sample?.heapUsed ?? 0) / MIB).toFixed(0)} MiB`,
      );
    });
    await Promise.all(traffic.map((driver) => driver.run(options.durationMs, options.rate)));
    await sampling.stop();
    // Execution reports travel over IPC; give the last ones a moment to arrive.
    await sleep(500);
    const leftovers = await Promise.all(targets.map((target) => target.leftovers()));
    return targets.map((target, index) =>
      judge(target, traffic[index]?.tally as Tally, samples[index] ?? [], leftovers[index], options),
    );
  } finally {
    await Promise.all(targets.map((target) => target.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

function storeUrl(store: SoakStore, front: Front, dir: string, run: string, options: SoakOptions): string {
  if (store === "sqlite") return `sqlite:${join(dir, `${front}.db`)}`;
  if (!options.redisUrl)
    throw new Error("a soak on Redis needs a Redis URL (--redis or ONCELY_TEST_REDIS_URL)");
  const url = new URL(options.redisUrl);
  url.searchParams.set("prefix", `oncely-soak:${run}:${front}:`);
  return url.toString();
}

/** Samples every target's memory every `sampleMs` until stopped. */
function sampleMemory(
  targets: readonly Target[],
  samples: Sample[][],
  start: number,
  options: SoakOptions,
  sampled: (index: number) => void,
) {
  let running = true;
  const loop = (async () => {
    while (running) {
      const atMs = performance.now() - start;
      await Promise.all(
        targets.map(async (target, index) => {
          // A target that stopped answering shows as crashed; its missing samples say nothing more.
          const memory = await target.memory().catch(() => undefined);
          if (memory) samples[index]?.push({ atMs, ...memory });
          sampled(index);
        }),
      );
      await sleep(Math.max(0, atMs + options.sampleMs - (performance.now() - start)));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

function judge(
  target: Target,
  tally: Tally,
  samples: readonly Sample[],
  leftovers: TargetResult["leftovers"],
  options: SoakOptions,
): TargetResult {
  let once = 0;
  let never = 0;
  let more = 0;
  for (const key of tally.keys) {
    const count = target.executions.get(key) ?? 0;
    if (count === 1) once++;
    else if (count === 0) never++;
    else more++;
  }
  let strangers = 0;
  for (const key of target.executions.keys()) if (!tally.keys.has(key)) strangers++;
  const growth = {
    rss: growthPerMinute(samples, "rss", options.durationMs, options.warmup),
    heapUsed: growthPerMinute(samples, "heapUsed", options.durationMs, options.warmup),
  };
  const failures: string[] = [];
  const crashed = target.crashed();
  if (crashed) failures.push(`crashed: ${crashed}`);
  if (tally.unexpected > 0) failures.push(`${tally.unexpected} unexpected answers`);
  if (never > 0 || more > 0) failures.push(`${never} keys never executed, ${more} more than once`);
  if (strangers > 0) failures.push(`${strangers} executions of keys never sent`);
  if (leftovers && (leftovers.requests > 0 || leftovers.executions > 0))
    failures.push(
      `${leftovers.requests} requests and ${leftovers.executions} executions still in flight once the traffic ended`,
    );
  const tolerance = options.tolerance;
  if (tolerance !== undefined) {
    for (const field of ["rss", "heapUsed"] as const) {
      if (Number.isNaN(growth[field]))
        failures.push(`${field} not judged: too few samples once warm (run for minutes, not seconds)`);
      else if (growth[field] > tolerance[field])
        failures.push(
          `${field} grows ${growth[field].toFixed(2)} MiB/min once warm (tolerance ${tolerance[field]})`,
        );
    }
  }
  return {
    name: target.name,
    tally,
    samples,
    keys: { sent: tally.keys.size, once, never, more },
    strangers,
    bodiesLost: target.bodiesLost.size,
    leftovers,
    crashed,
    growth,
    failures,
  };
}

/** The report of a soak, as printed. */
export function formatReport(results: readonly TargetResult[], options: SoakOptions): string {
  const seconds = options.durationMs / 1000;
  const lines: string[] = [];
  for (const result of results) {
    const { tally, keys, samples, growth } = result;
    const operations = Object.values(tally.operations).reduce((sum, count) => sum + count, 0);
    const ms = (values: readonly number[], p: number) => percentile(values, p).toFixed(1);
    lines.push(
      `${result.name}: ${result.failures.length === 0 ? "PASS" : "FAIL"}`,
      `  ${operations} operations (${(operations / seconds).toFixed(1)}/s), ${tally.requests} requests (${(tally.requests / seconds).toFixed(1)}/s) in ${clock(options.durationMs)}; ${tally.skipped} skipped by a driver that fell behind`,
      `  mix: ${Object.entries(tally.operations)
        .map(([name, count]) => `${name} ${count}`)
        .join(", ")}`,
      `  executions per key: ${keys.sent} keys, ${keys.once} exactly once, ${keys.never} never, ${keys.more} more than once; ${result.strangers} executions of unknown keys`,
      ...(result.leftovers
        ? [
            `  in flight once the traffic ended: ${result.leftovers.requests} requests, ${result.leftovers.executions} executions`,
          ]
        : []),
      `  known defect: handler ran without its request body (client left during the claim): ${result.bodiesLost} keys`,
      `  503 store-unavailable (store answered late; retried): ${tally.shed}`,
      `  unexpected answers: ${tally.unexpected} of ${tally.requests}${tally.descriptions.map((line) => `\n    ${line}`).join("")}`,
      `  latency ms: new key p50 ${ms(tally.latency.fresh, 50)} p99 ${ms(tally.latency.fresh, 99)}; replay p50 ${ms(tally.latency.replay, 50)} p99 ${ms(tally.latency.replay, 99)}`,
      `  memory (RSS / heap used, MiB): ${memoryOverTime(samples, options.durationMs)}`,
      `  growth once warm (after ${clock(options.durationMs * options.warmup)}): RSS ${signed(growth.rss)} MiB/min, heap floor ${signed(growth.heapUsed)} MiB/min${options.tolerance === undefined ? " (not checked)" : ` (tolerances ${options.tolerance.rss} and ${options.tolerance.heapUsed})`}`,
      ...result.failures.map((failure) => `  failure: ${failure}`),
    );
  }
  return lines.join("\n");
}

/** About ten samples spread over the run, as `m:ss rss/heap`. */
function memoryOverTime(samples: readonly Sample[], durationMs: number): string {
  const step = durationMs / 10;
  const picked: Sample[] = [];
  for (const sample of samples)
    if (picked.length === 0 || sample.atMs >= picked.length * step) picked.push(sample);
  return picked
    .map(
      (sample) =>
        `${clock(sample.atMs)} ${(sample.rss / MIB).toFixed(0)}/${(sample.heapUsed / MIB).toFixed(0)}`,
    )
    .join(", ");
}

function signed(value: number): string {
  return `${value >= 0 ? "+" : ""}${value.toFixed(2)}`;
}
