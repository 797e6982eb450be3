import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";

/** Shell commands of a block: continuation lines joined, comments and blank lines dropped. */
export function commandsOf(code: string): string[] {
  return code
    .replaceAll("\\\n", " ")
    .split("\n")
    .map((line) => line.replace(/\s+#\s.*$/, "").trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

/** Starts a long-running command and resolves with everything it printed once `ready` shows up. */
export async function startCommand(
  command: string,
  options: { cwd: string; env: NodeJS.ProcessEnv },
  ready: RegExp,
): Promise<{ child: ChildProcess; output: string }> {
  // `exec` (after the variables the command sets) so that the signals the test sends reach the
  // command itself, not a shell.
  const exec = command.replace(/^((?:\w+=(?:"[^"]*"|\S+)\s+)*)/, "$1exec ");
  const child = spawn("sh", ["-c", exec], { ...options, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const stderr: string[] = [];
  child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) resolve();
    });
    child.once("exit", (code) =>
      reject(new Error(`${command} exited with ${code}: ${output}${stderr.join("")}`)),
    );
  });
  return { child, output };
}

export async function stop(child: ChildProcess): Promise<number | string | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = once(child, "exit").then(([code, signal]) => (code as number | null) ?? (signal as string));
  child.kill("SIGTERM");
  const outcome = await Promise.race([exited, sleep(15_000, "still running")]);
  if (outcome === "still running") child.kill("SIGKILL");
  return outcome;
}
