// The performance runs of the comparison: every subject in its own process with the same
// handler, unique keys and replays, AMOUNT requests per run at 50 connections, all scenarios
// interleaved over ROUNDS rounds. Node CPU from /proc of the server; the store's CPU from
// the meter of its server (none for the embedded stores).
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { type Child, startChild } from "../../test/helpers/processes.js";
import { load, median, postOrder } from "../load.js";
import { type CpuMeter, cpuMicroseconds, type SentShares, sentCommandTime } from "../store-cpu.js";
import type { Subject } from "./subjects.js";

const CONNECTIONS = 50;
const body = JSON.stringify({ sku: "A-1", quantity: 2 });

/** Settings of one performance run. */
export interface Settings {
  readonly rounds: number;
  readonly amount: number;
  readonly handlerMs: number;
}

/** Where a subject runs: its store URL and the meter of that store's server, if any. */
export interface Placement {
  readonly url: string;
  readonly meter?: CpuMeter;
}

/** One row of the performance table: medians over the rounds. */
export interface Row {
  readonly name: string;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly node: number;
  readonly store: number | undefined;
  /** Time inside Redis commands (INFO commandstats), finer than /proc's ticks; undefined for other stores. */
  readonly commands: number | undefined;
  /** Median of the per-round ratios of requests/s to bare Express. */
  readonly versusBare: number;
  /** Runs that failed (timeouts on a loaded machine); the medians are of the others. */
  readonly failedRuns: number;
  /** Set when the subject could not be measured at all. */
  readonly failure?: string;
}

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  node: number;
  store: number;
  commands: number;
}

const run = randomUUID().slice(0, 8);
let counter = 0;

/** Runs the performance table; `place` gives each subject its store (bare Express first). */
export async function measure(
  subjects: readonly Subject[],
  place: (subject: Subject) => Placement,
  settings: Settings,
): Promise<Row[]> {
  const children: Child[] = [];
  const scenarios: Array<{
    name: string;
    child?: Child;
    meter?: CpuMeter;
    key: () => string;
    redis?: boolean;
    failure?: string;
    /** Redis: see `CpuMeter.sentShares`. */
    shares?: SentShares;
  }> = [];
  try {
    for (const subject of subjects) {
      const placement = place(subject);
      const replayKeys = Array.from({ length: 100 }, (_, i) => `peers-replay-${run}-${children.length}-${i}`);
      const unique = () => `peers-${run}-${++counter}`;
      const replay = () => replayKeys[++counter % replayKeys.length] as string;
      try {
        const child = await startChild("bench/peers/server.ts", [
          subject.name,
          placement.url,
          String(settings.handlerMs),
        ]);
        children.push(child);
        // Store the replay keys and warm up; let answers stored after sending settle.
        for (const key of replayKeys) await postOrder(child.url, key, body);
        await sleep(200);
        const meter = placement.meter;
        const redis = subject.store === "redis";
        if (subject.store === "none") {
          scenarios.push({ name: `${subject.name} (same requests, key ignored)`, child, key: unique });
        } else {
          scenarios.push({
            name: `${subject.name}, unique keys`,
            child,
            ...(meter ? { meter } : {}),
            redis,
            key: unique,
          });
          scenarios.push({
            name: `${subject.name}, replays`,
            child,
            ...(meter ? { meter } : {}),
            redis,
            key: replay,
          });
        }
      } catch (error) {
        scenarios.push({ name: subject.name, key: unique, failure: String(error).slice(0, 120) });
      }
    }
    // One entry per round, undefined where that run failed (a run that times out on a loaded
    // machine costs its round, not the whole row).
    for (const scenario of scenarios) {
      const { child, meter } = scenario;
      if (!child || !meter?.sentShares) continue;
      try {
        scenario.shares = await meter.sentShares(() => postOrder(child.url, scenario.key(), body));
      } catch (error) {
        // Its rounds will fail and say why; the command column stays empty.
        console.log(`${scenario.name}: no command shares: ${String(error)}`);
      }
    }
    const samples = scenarios.map(() => [] as Array<Sample | undefined>);
    const failures = scenarios.map(() => [] as string[]);
    for (let round = 1; round <= settings.rounds; round++) {
      for (const [index, scenario] of scenarios.entries()) {
        if (!scenario.child) continue;
        try {
          const nodeBefore = cpuMicroseconds(scenario.child.pid);
          const storeBefore = (await scenario.meter?.read()) ?? { cpu: 0 };
          const figures = await load({
            url: `${scenario.child.url}/orders`,
            connections: CONNECTIONS,
            seconds: 0,
            amount: settings.amount,
            body,
            key: scenario.key,
          });
          const storeAfter = (await scenario.meter?.read()) ?? { cpu: 0 };
          const sample = {
            rps: figures.rps,
            p50: figures.p50,
            p99: figures.p99,
            node: (cpuMicroseconds(scenario.child.pid) - nodeBefore) / figures.requests,
            store: (storeAfter.cpu - storeBefore.cpu) / figures.requests,
            commands:
              sentCommandTime(storeBefore.commands, storeAfter.commands, scenario.shares) / figures.requests,
          };
          samples[index]?.push(sample);
          console.log(
            `round ${round} ${scenario.name}: ${sample.rps.toFixed(0)} req/s, p50 ${sample.p50} ms, p99 ${sample.p99} ms, Node ${sample.node.toFixed(0)} µs, store ${sample.store.toFixed(1)} µs (Redis commands ${sample.commands.toFixed(1)} µs) per request`,
          );
        } catch (error) {
          samples[index]?.push(undefined);
          failures[index]?.push(String(error).slice(0, 160));
          console.log(`round ${round} ${scenario.name}: failed: ${String(error)}`);
        }
      }
    }
    const bare = samples[0] ?? [];
    return scenarios.map((scenario, index) => {
      const rounds = samples[index] ?? [];
      const runs = rounds.filter((sample) => sample !== undefined);
      const of = (pick: (sample: Sample) => number) => median(runs.map(pick));
      const ratios = rounds.flatMap((sample, round) => {
        const baseline = bare[round];
        return sample && baseline ? [sample.rps / baseline.rps] : [];
      });
      const failed = failures[index] ?? [];
      const failure = scenario.failure ?? (runs.length === 0 ? failed[0] : undefined);
      return {
        name: scenario.name,
        rps: of((s) => s.rps),
        p50: of((s) => s.p50),
        p99: of((s) => s.p99),
        node: of((s) => s.node),
        store: scenario.meter ? of((s) => s.store) : undefined,
        commands: scenario.redis && scenario.shares ? of((s) => s.commands) : undefined,
        versusBare: ratios.length > 0 ? median(ratios) : Number.NaN,
        failedRuns: failed.length,
        ...(failure ? { failure } : {}),
      };
    });
  } finally {
    await Promise.all(children.map((child) => child.stop("SIGKILL")));
  }
}
