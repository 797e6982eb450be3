// The command in pipes and under signals, as real child processes: a closed stdout pipe, a
// reader that stops early, the order of the shutdown lines.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { createStore } from "../../src/stores/create-store.js";
import { CLI } from "../gateway/helpers.js";
import { temporaryDirectory } from "../helpers/stores.js";

function startOncely(args: readonly string[]): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
}

/** The exit code (or signal) of `child`, or "still running" after `ms`, when it is killed with SIGKILL. */
async function exitWithin(child: ChildProcess, ms: number): Promise<number | string | null> {
  const exited = once(child, "exit").then(([code, signal]) => (code as number | null) ?? (signal as string));
  const outcome = await Promise.race([exited, sleep(ms, "still running" as const)]);
  if (outcome === "still running") child.kill("SIGKILL");
  return outcome;
}

/** Everything `child` prints on stdout, and a way to wait for a piece of it. */
function collect(child: ChildProcess): { text(): string; until(piece: string): Promise<string> } {
  let output = "";
  const waiters: Array<() => void> = [];
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    for (const wake of waiters.splice(0)) wake();
  });
  return {
    text: () => output,
    until: async (piece) => {
      while (!output.includes(piece)) {
        if (child.exitCode !== null) throw new Error(`exited without printing ${JSON.stringify(piece)}`);
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
      return output;
    },
  };
}

describe("a gateway whose standard output is a pipe", () => {
  it("exits on Ctrl-C after the pipe's reader has gone (npm start | tee log)", async () => {
    const demo = startOncely(["demo", "--port", "0", "--store", "memory:"]);
    let stderr = "";
    demo.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    await collect(demo).until("Ctrl-C stops the demo");
    // Ctrl-C ends tee, then the demo gets SIGINT: its goodbye lines meet a closed pipe.
    demo.stdout?.destroy();
    await sleep(100);
    demo.kill("SIGINT");
    expect(await exitWithin(demo, 10_000)).toBe(0);
    expect(stderr).toBe("");
  }, 30_000);

  it("prints shutting down before stopped, every time", async () => {
    const runs = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const gateway = startOncely([
          "serve",
          "--port",
          "0",
          "--store",
          "memory:",
          "--upstream",
          "http://127.0.0.1:9",
        ]);
        const output = collect(gateway);
        await output.until("listening");
        gateway.kill("SIGTERM");
        expect(await exitWithin(gateway, 10_000)).toBe(0);
        return output
          .text()
          .split("\n")
          .filter(Boolean)
          .map((line) => (JSON.parse(line) as { msg: string }).msg.split(":")[0]);
      }),
    );
    for (const messages of runs)
      expect(messages).toEqual([expect.stringMatching(/^listening \d+$/), "shutting down", "stopped"]);
  }, 60_000);
});

describe("oncely keys list | head -1", () => {
  it("ends quietly when head stops reading", async () => {
    const path = join(temporaryDirectory(), "oncely.db");
    const store = await createStore(`sqlite:${path}`);
    // Far more than a pipe holds (64 KiB), so the listing is still writing when head exits.
    for (let i = 0; i < 3000; i++) {
      await store.claim({ scope: "s", key: `key-${i}`, fingerprint: "f", token: "t", leaseMs: 600_000 });
    }
    await store.close();
    const list = startOncely(["keys", "list", "--limit", "3000", "--store", `sqlite:${path}`]);
    const head = spawn("head", ["-1"], {
      stdio: [list.stdout as Readable, "pipe", "ignore"],
    });
    // head holds the pipe now; with this process's end open too, the pipe would never close.
    list.stdout?.destroy();
    let stderr = "";
    list.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    let firstLine = "";
    head.stdout?.on("data", (chunk: Buffer) => {
      firstLine += chunk.toString();
    });
    const headExited = once(head, "exit");
    expect(await exitWithin(list, 20_000)).toBe(0);
    await headExited;
    expect(firstLine.split("\n").filter(Boolean)).toHaveLength(1);
    expect(stderr).toBe("");
  }, 60_000);
});
