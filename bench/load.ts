// Load generation shared by benchmarks: autocannon against one URL, and the median of runs.
import { readFileSync } from "node:fs";
import autocannon from "autocannon";

/** What one run measured. */
export interface Figures {
  /** Requests answered per second, from the start to the last answer. */
  rps: number;
  /** Latency percentiles in milliseconds. */
  p50: number;
  p99: number;
  /** Requests answered, and how long the run took in seconds. */
  requests: number;
  seconds: number;
}

/** One load run. */
export interface LoadOptions {
  readonly url: string;
  readonly connections: number;
  /** How long to run; ignored when `amount` is given. */
  readonly seconds: number;
  /** Send exactly this many requests instead of running for `seconds`. */
  readonly amount?: number;
  readonly body: string;
  /** The idempotency key of each request, or undefined to send none. */
  readonly key: () => string | undefined;
}

/** POSTs `body` to `url` for `seconds`; fails when any answer is not 2xx, so a broken target never looks fast. */
export async function load({ url, connections, seconds, amount, body, key }: LoadOptions): Promise<Figures> {
  const startedAt = performance.now();
  let lastAnswerAt = startedAt;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const run = autocannon(
      {
        url,
        connections,
        ...(amount === undefined ? { duration: seconds } : { amount }),
        requests: [
          {
            method: "POST",
            setupRequest: (request: autocannon.Request) => {
              const value = key();
              return {
                ...request,
                body,
                headers: {
                  "content-type": "application/json",
                  ...(value ? { "idempotency-key": value } : {}),
                },
              };
            },
          },
        ],
      },
      (error, finished) => (error ? reject(error) : resolve(finished)),
    );
    // autocannon ends a run, and counts its duration and requests per second, on whole-second
    // ticks: 6,000 requests answered in 0.6 s would read as 1 s. The time of the last answer is exact.
    run.on("response", () => {
      lastAnswerAt = performance.now();
    });
  });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx answers and ${result.errors} errors`);
  }
  const elapsed = (lastAnswerAt - startedAt) / 1000;
  return {
    rps: result.requests.total / elapsed,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    seconds: elapsed,
  };
}

/** POSTs `body` to `<url>/orders` with an idempotency key and reads the whole answer: stores a replay key, or warms a target up. */
export async function postOrder(url: string, key: string, body: string): Promise<void> {
  const response = await fetch(`${url}/orders`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": key },
    body,
  });
  await response.arrayBuffer();
}

/** The median of `values` (the upper one of an even count). */
export function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
}

/** One scenario of an interleaved measurement. */
export interface Scenario {
  readonly name: string;
  /** The endpoint to POST to. */
  readonly url: string;
  readonly key: () => string | undefined;
}

/**
 * Runs every scenario `rounds` times, interleaved (so that drift of the machine hits all
 * of them alike), logs each run, and returns each scenario's median figures.
 */
export async function measureInterleaved(
  scenarios: readonly Scenario[],
  settings: {
    readonly rounds: number;
    readonly connections: number;
    readonly seconds: number;
    readonly body: string;
  },
): Promise<Array<Pick<Figures, "rps" | "p50" | "p99"> & { name: string; runs: number[]; busy?: number }>> {
  const samples = new Map(
    scenarios.map((scenario) => [scenario.name, [] as Array<Figures & { busy?: number }>]),
  );
  for (let round = 1; round <= settings.rounds; round++) {
    for (const scenario of scenarios) {
      const before = machineCpu();
      const figures = await load({ ...settings, url: scenario.url, key: scenario.key });
      const busy = busyShare(before, machineCpu());
      samples.get(scenario.name)?.push({ ...figures, ...(busy === undefined ? {} : { busy }) });
      const busyText = busy === undefined ? "" : `, machine ${(busy * 100).toFixed(0)}% busy`;
      console.log(
        `round ${round} ${scenario.name}: ${figures.rps.toFixed(0)} req/s, p50 ${figures.p50} ms, p99 ${figures.p99} ms${busyText}`,
      );
    }
  }
  return scenarios.map((scenario) => {
    const runs = samples.get(scenario.name) ?? [];
    const busy = runs.flatMap((run) => (run.busy === undefined ? [] : [run.busy]));
    return {
      name: scenario.name,
      rps: median(runs.map((run) => run.rps)),
      p50: median(runs.map((run) => run.p50)),
      p99: median(runs.map((run) => run.p99)),
      /** Requests/s of each round, in order, for ratios taken round by round. */
      runs: runs.map((run) => run.rps),
      ...(busy.length > 0 ? { busy: median(busy) } : {}),
    };
  });
}

/** The machine's CPU time so far, all cores, from /proc/stat; undefined off Linux. */
function machineCpu(): { busy: number; total: number } | undefined {
  try {
    const times = (readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "")
      .trim()
      .split(/\s+/)
      // user … steal: guest time is counted inside user already.
      .slice(1, 9)
      .map(Number);
    const total = times.reduce((sum, time) => sum + time, 0);
    // idle and iowait are not busy; time stolen by the hypervisor is: nobody here could use it.
    const idle = (times[3] ?? 0) + (times[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/**
 * The share of all cores' time that was busy between two readings: how much CPU the machine
 * had left while a run went on (near 1, another process could only take CPU from the others).
 */
function busyShare(
  before: ReturnType<typeof machineCpu>,
  after: ReturnType<typeof machineCpu>,
): number | undefined {
  if (!before || !after || after.total === before.total) return undefined;
  return (after.busy - before.busy) / (after.total - before.total);
}
