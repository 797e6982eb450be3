// The processes a soak drives: `oncely serve` in front of an upstream, or an Express app with
// oncely, each on its own store. Every one is a real child process, stopped by its pid.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

/** The front a soak sends its requests to. */
export type Front = "gateway" | "express";

/** Memory of a target process, in bytes. */
export interface MemorySample {
  readonly rss: number;
  readonly heapUsed: number;
}

/** One running combination of a front and a store. */
export interface Target {
  /** e.g. "gateway on sqlite" */
  readonly name: string;
  readonly url: string;
  /** The path whose duplicates wait for the original (`wait`), if the target has one. */
  readonly waitingPath: string | undefined;
  /** Executions seen by the handler (the gateway's upstream, or the Express route), by key. */
  readonly executions: ReadonlyMap<string, number>;
  /** Keys whose handler ran on a request that had lost its body (its client left first). */
  readonly bodiesLost: ReadonlySet<string>;
  /** Why the target process died before {@link stop}, if it did. */
  crashed(): string | undefined;
  /** The memory of the process under test (the gateway, or the Express app; never the upstream). */
  memory(): Promise<MemorySample>;
  /**
   * What the process still holds per request once the traffic has ended (the gateway's
   * in-flight gauges: its set of request records, and executions under a lease), where it tells.
   */
  leftovers(): Promise<{ readonly requests: number; readonly executions: number } | undefined>;
  stop(): Promise<void>;
}

const APP = fileURLToPath(new URL("./app.ts", import.meta.url));
const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

/** A child process run through tsx, with an IPC channel, that printed `listening <port>`. */
interface Spawned {
  readonly process: ChildProcess;
  readonly port: number;
  /** Why it ended before {@link stop} was called (with the end of its stderr), if it did. */
  crashed(): string | undefined;
  stop(): Promise<void>;
}

async function spawnListening(script: string, args: readonly string[]): Promise<Spawned> {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const port = await new Promise<number>((resolve, reject) => {
    let stdout = "";
    const onData = (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening (\d+)/.exec(stdout);
      if (!match) return;
      // Later output (the gateway's warnings) is read and dropped, so the pipe never fills.
      stdout = "";
      child.stdout?.off("data", onData).resume();
      resolve(Number(match[1]));
    };
    child.stdout?.on("data", onData);
    child.once("exit", (code, signal) =>
      reject(new Error(`${script} ended (${code ?? signal}) before listening: ${stderr}`)),
    );
  });
  let stopping = false;
  let crash: string | undefined;
  child.once("exit", (code, signal) => {
    if (!stopping) crash = `${script} ended (${code ?? signal}): ${stderr.split("\n").slice(-5).join("\n")}`;
  });
  return {
    process: child,
    port,
    crashed: () => crash,
    stop: async () => {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Counts the `{ executed: key, bodyLost }` messages of `child`. */
function countExecutions(child: ChildProcess): { executions: Map<string, number>; bodiesLost: Set<string> } {
  const executions = new Map<string, number>();
  const bodiesLost = new Set<string>();
  child.on("message", (message: { executed?: string; bodyLost?: boolean }) => {
    if (message.executed === undefined) return;
    executions.set(message.executed, (executions.get(message.executed) ?? 0) + 1);
    if (message.bodyLost) bodiesLost.add(message.executed);
  });
  return { executions, bodiesLost };
}

/** `process.memoryUsage()` of an app child, asked over IPC. */
function askMemory(child: ChildProcess): Promise<MemorySample> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { memory?: NodeJS.MemoryUsage }) => {
      if (!message.memory) return;
      child.off("message", onMessage);
      resolve({ rss: message.memory.rss, heapUsed: message.memory.heapUsed });
    };
    child.on("message", onMessage);
    if (!child.send({ memory: true })) reject(new Error("the app's IPC channel is closed"));
  });
}

/** Reads metrics from the gateway's own Prometheus endpoint. */
async function scrape(url: string): Promise<(name: string) => number> {
  const text = await (await fetch(`${url}/_oncely/metrics`)).text();
  return (name) => {
    const match = new RegExp(`^${name} (\\S+)`, "m").exec(text);
    if (!match) throw new Error(`the gateway's metrics have no ${name}`);
    return Number(match[1]);
  };
}

/**
 * Starts `front` on the store at `storeUrl`, keeping completed records for `ttlMs`.
 * @param label the store's name in reports ("sqlite", "redis")
 */
export async function startTarget(
  front: Front,
  label: string,
  storeUrl: string,
  ttlMs: number,
): Promise<Target> {
  const name = `${front} on ${label}`;
  if (front === "express") {
    const app = await spawnListening(APP, ["express", storeUrl, String(ttlMs)]);
    return {
      name,
      url: `http://127.0.0.1:${app.port}`,
      waitingPath: "/waiting",
      ...countExecutions(app.process),
      crashed: app.crashed,
      memory: () => askMemory(app.process),
      leftovers: async () => undefined,
      stop: () => app.stop(),
    };
  }
  const upstream = await spawnListening(APP, ["upstream"]);
  const counts = countExecutions(upstream.process);
  try {
    const gateway = await spawnListening(CLI, [
      "serve",
      ...["--port", "0", "--upstream", `http://127.0.0.1:${upstream.port}`, "--store", storeUrl],
      ...["--ttl", `${ttlMs}ms`, "--log-level", "warn"],
    ]);
    const url = `http://127.0.0.1:${gateway.port}`;
    return {
      name,
      url,
      waitingPath: undefined,
      ...counts,
      crashed: () => gateway.crashed() ?? upstream.crashed(),
      // Node's default process metrics, which the gateway exports.
      memory: async () => {
        const metric = await scrape(url);
        return {
          rss: metric("process_resident_memory_bytes"),
          heapUsed: metric("nodejs_heap_size_used_bytes"),
        };
      },
      leftovers: async () => {
        const metric = await scrape(url);
        return {
          requests: metric("oncely_in_flight_requests"),
          executions: metric("oncely_in_flight_executions"),
        };
      },
      stop: async () => {
        await gateway.stop();
        await upstream.stop();
      },
    };
  } catch (error) {
    await upstream.stop();
    throw error;
  }
}
