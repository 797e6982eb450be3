import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

/** A child process running a TypeScript entry point through tsx. */
export interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  /** The port it printed as `listening <port>`. */
  readonly port: number;
  readonly url: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/**
 * Starts `node --import tsx <script> ...args` (plain `node` for a compiled `.js` script) and
 * waits for its `listening <port>` line.
 */
export async function startChild(script: string, args: readonly string[]): Promise<Child> {
  const loader = script.endsWith(".js") ? [] : ["--import", "tsx"];
  const child = spawn(process.execPath, [...loader, script, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  child.once("exit", () => running.delete(child));
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const port = await new Promise<number>((resolve, reject) => {
    let stdout = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening (\d+)/.exec(stdout);
      if (match) resolve(Number(match[1]));
    });
    child.once("exit", (code) =>
      reject(new Error(`${script} exited with ${code} before listening: ${stderr}`)),
    );
  });
  return {
    process: child,
    pid: child.pid as number,
    port,
    url: `http://127.0.0.1:${port}`,
    stop: async (signal: NodeJS.Signals = "SIGTERM") => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill(signal);
      await exited;
    },
  };
}

/** How many executions the guarded-server fixture recorded in its counter file. */
export function executions(counterFile: string): number {
  if (!existsSync(counterFile)) return 0;
  return readFileSync(counterFile, "utf8").split("\n").filter(Boolean).length;
}

/** Whether process `pid` has ended within `ms` (it is killed if not). */
export async function endsWithin(pid: number, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 100) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await sleep(100);
  }
  process.kill(pid, "SIGKILL");
  return false;
}
