// CPU meters for the store benchmarks: a process's CPU time from /proc, a private Redis
// server whose CPU is ours alone, and the PostgreSQL backends of one application_name.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import pg from "pg";
import { type Figures, type LoadOptions, load, median } from "./load.js";

const ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

/** User plus system CPU time of a process so far, in microseconds (0 once it is gone). */
export function cpuMicroseconds(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return 0;
  }
  const fields = (stat.split(") ")[1] as string).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / ticksPerSecond;
}

/** Time (µs) inside each Redis command so far, from `INFO commandstats`. */
export type CommandStats = ReadonlyMap<string, number>;

/** Of each Redis command, the share of its calls that clients sent rather than scripts ran. */
export type SentShares = ReadonlyMap<string, number>;

/** Reads CPU counters (microseconds) of something that serves the store. */
export interface CpuMeter {
  /** `cpu`: the server's CPU time; `commands`: each command's time, when it counts that. */
  read(): Promise<{ cpu: number; commands?: CommandStats }>;
  /**
   * Redis only: which share of each command's calls clients sent while `request` ran
   * {@link SHARE_REQUESTS} times, one after another, from MONITOR, for
   * {@link sentCommandTime}. MONITOR slows Redis down, so this runs apart from the measured
   * runs.
   */
  sentShares?(request: () => Promise<void>): Promise<SentShares>;
  close(): Promise<void>;
}

/**
 * The time inside the commands clients sent between two readings of `commandstats`. Redis
 * 7 lists the commands a script runs under their own names as well, while the script's time
 * already includes them: each command's time counts in the share of its calls that clients
 * sent (`shares`, assuming a call costs the same either way), a script's in full, and a
 * command never seen while the shares were taken in full. 0 when a reading or the shares
 * are missing (a server that counts no commands).
 */
export function sentCommandTime(
  before: CommandStats | undefined,
  after: CommandStats | undefined,
  shares: SentShares | undefined,
): number {
  if (!before || !after || !shares) return 0;
  let total = 0;
  for (const [name, usec] of after) {
    if (name === "info" || name === "monitor") continue;
    total += (usec - (before.get(name) ?? 0)) * (shares.get(name) ?? 1);
  }
  return total;
}

/** Requests sent while {@link CpuMeter.sentShares} watches. */
export const SHARE_REQUESTS = 50;

/** A free loopback port, for a server started by the benchmark. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts a Redis server of our own (no persistence, as the shared test server runs), so
 * that its CPU time is the benchmark's alone. Its `close` stops it.
 */
export async function privateRedis(): Promise<{ url: string; meter: CpuMeter }> {
  const port = await freePort();
  const server: ChildProcess = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt++) {
    const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
    client.on("error", () => {});
    try {
      await client.connect();
      client.disconnect();
      break;
    } catch (error) {
      client.disconnect();
      if (attempt > 50) throw error;
      await sleep(100);
    }
  }
  const pid = server.pid as number;
  const stats = new Redis(url);
  return {
    url,
    meter: {
      // INFO commandstats: time inside commands, without network I/O.
      read: async () => {
        const info = await stats.info("commandstats");
        const commands = new Map(
          [...info.matchAll(/^cmdstat_(\w+):calls=\d+,usec=(\d+)/gm)].map((match) => [
            match[1] as string,
            Number(match[2]),
          ]),
        );
        return { cpu: cpuMicroseconds(pid), commands };
      },
      sentShares: async (request) => {
        const client = new Redis(url);
        const sent = new Map<string, number>();
        const all = new Map<string, number>();
        let monitor: Redis | undefined;
        try {
          monitor = await client.monitor();
          monitor.on("monitor", (_time: string, args: string[], source: string) => {
            const name = String(args[0]).toLowerCase();
            all.set(name, (all.get(name) ?? 0) + 1);
            // MONITOR names commands a script ran by the source "lua".
            if (source !== "lua") sent.set(name, (sent.get(name) ?? 0) + 1);
          });
          for (let i = 0; i < SHARE_REQUESTS; i++) await request();
          // Answers some layers store after sending.
          await sleep(200);
        } finally {
          monitor?.disconnect();
          client.disconnect();
        }
        return new Map([...all].map(([name, calls]) => [name, (sent.get(name) ?? 0) / calls]));
      },
      close: async () => {
        stats.disconnect();
        server.kill("SIGTERM");
      },
    },
  };
}

/**
 * The CPU of the PostgreSQL backends serving connections named `applicationName`: backends
 * a backend counts from its first
 * reading, or from its start when it appeared since the last one.
 */
export async function postgresBackends(url: string, applicationName: string): Promise<CpuMeter> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const seen = new Map<number, number>();
  let total = 0;
  return {
    read: async () => {
      const { rows } = await client.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
        [applicationName],
      );
      for (const { pid } of rows) {
        // A backend first seen now started since the last reading: all of its CPU counts.
        const cpu = cpuMicroseconds(pid);
        total += cpu - (seen.get(pid) ?? 0);
        seen.set(pid, cpu);
      }
      return { cpu: total };
    },
    close: () => client.end(),
  };
}

/** One load run, with the CPU time that process `pid` spent per request during it. */
export async function loadWithCpu(
  pid: number,
  options: LoadOptions,
): Promise<{ figures: Figures; perRequest: number }> {
  const before = cpuMicroseconds(pid);
  const figures = await load(options);
  return { figures, perRequest: (cpuMicroseconds(pid) - before) / figures.requests };
}

/** A server measured by {@link cpuRounds}. */
export interface CpuScenario {
  readonly name: string;
  readonly pid: number;
  /** Where its requests go. */
  readonly url: string;
  readonly key: () => string | undefined;
}

/** What {@link cpuRounds} measured for one scenario, a figure per round. */
export interface CpuSamples {
  /** CPU µs of the scenario's process per request. */
  readonly cpu: number[];
  readonly rps: number[];
}

/**
 * Runs each scenario in turn, `rounds` times, printing each run: interleaved, so that the
 * machine's drift falls on every scenario alike.
 */
export async function cpuRounds(
  scenarios: readonly CpuScenario[],
  {
    rounds,
    amount,
    connections,
    body,
  }: { rounds: number; amount: number; connections: number; body: string },
): Promise<CpuSamples[]> {
  const samples = scenarios.map((): CpuSamples => ({ cpu: [], rps: [] }));
  for (let round = 1; round <= rounds; round++) {
    for (const [index, { name, pid, url, key }] of scenarios.entries()) {
      const { figures, perRequest } = await loadWithCpu(pid, {
        url,
        connections,
        seconds: 0,
        amount,
        body,
        key,
      });
      samples[index]?.cpu.push(perRequest);
      samples[index]?.rps.push(figures.rps);
      console.log(
        `round ${round} ${name}: ${perRequest.toFixed(0)} µs CPU/request, ${figures.rps.toFixed(0)} req/s`,
      );
    }
  }
  return samples;
}

/**
 * The median of the per-round ratios of two scenarios' CPU: the machine drifts between
 * rounds far more than within one.
 */
export function pairedCpuRatio(of: CpuSamples | undefined, to: CpuSamples | undefined): number {
  return median((of?.cpu ?? []).map((cpu, round) => cpu / (to?.cpu[round] ?? Number.NaN)));
}
