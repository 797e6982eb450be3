// Child processes for the client tests: `oncely push` and fixtures, run through tsx from
// any working directory, with their output captured and a hard time limit.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const root = resolve(import.meta.dirname, "../..");
const tsx = pathToFileURL(resolve(root, "node_modules/tsx/dist/loader.mjs")).href;
const cli = resolve(root, "src/cli/main.ts");

/** A running child; `exited` resolves with its code (null when a signal ended it). */
export interface Running {
  readonly process: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout matches `pattern`. */
  waitForOutput(pattern: RegExp): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** Starts `node --import tsx script …args` in `cwd`, killed with SIGKILL after `limit` ms. */
export function start(script: string, args: readonly string[], cwd: string, limit = 60_000): Running {
  const child = spawn(process.execPath, ["--import", tsx, resolve(root, script), ...args], {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  const timer = setTimeout(() => child.kill("SIGKILL"), limit);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = once(child, "exit").then(([code, signal]) => {
    clearTimeout(timer);
    running.delete(child);
    return { code: code as number | null, signal: signal as NodeJS.Signals | null };
  });
  return {
    process: child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    waitForOutput: (pattern) =>
      new Promise((resolvePromise, reject) => {
        const check = () => {
          if (!pattern.test(stdout)) return;
          child.stdout?.off("data", check);
          resolvePromise();
        };
        child.stdout?.on("data", check);
        check();
        void exited.then(() => reject(new Error(`exited before printing ${pattern}: ${stderr}`)));
      }),
  };
}

/** Starts `oncely push …args` in `cwd`. */
export function startPush(args: readonly string[], cwd: string): Running {
  return start(cli, ["push", ...args], cwd);
}

/** Runs `oncely push …args` to the end. */
export async function push(
  args: readonly string[],
  cwd: string,
): Promise<{ code: number | null; stderr: string }> {
  const child = startPush(args, cwd);
  const { code } = await child.exited;
  return { code, stderr: child.stderr() };
}

/** The counts of the closing summary line. */
export function summaryOf(stderr: string) {
  const match = /(\d+) executed, (\d+) replayed, (\d+) skipped by checkpoint, (\d+) failed/.exec(stderr);
  if (!match) throw new Error(`no summary in: ${stderr}`);
  const [executed, replayed, skipped, failed] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
  ];
  return { executed, replayed, skipped, failed };
}
