// Pinning benchmark processes to CPUs, so that a proxy or server under test does not share
// its core with the load generator.
import { execFileSync } from "node:child_process";
import { availableParallelism } from "node:os";

/** The machine's cores, read once: pinning this process narrows what availableParallelism() reports afterwards. */
export const cores = availableParallelism();

/** Pins a process (all its threads) to CPUs, when taskset exists and there are cores to split. */
export function pin(pid: number, cpus: string): boolean {
  if (cores < 2) return false;
  try {
    execFileSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
