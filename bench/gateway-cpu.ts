// `npm run bench:gateway-cpu`: the CPU time the proxy process spends per request, for the
// least Node proxy (bench/least-proxy.ts, the yardstick of a Node hop) and `oncely serve` on
// the memory store (BENCH_STORE=sqlite: a SQLite file each): no key (unguarded pass-through),
// unique keys, replays. Steadier than the
// requests/s of `npm run bench:gateway` on a small shared machine: with taskset available the
// proxies run on the last core, the upstream and the load generator on the others, and the
// CPU time comes from /proc/<pid>/stat. Each scenario sends AMOUNT requests, ROUNDS times
// interleaved; medians are reported.
// BENCH_BASELINE_DIR=<another built checkout> adds that checkout's `oncely serve` as rows, to
// compare a change with what it replaces in the same run. Prints its table; writes no docs.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Child, startChild } from "../test/helpers/processes.js";
import { load, median, postOrder } from "./load.js";
import { cores, pin } from "./pin.js";
import { cpuRounds, pairedCpuRatio } from "./store-cpu.js";

const SQLITE = process.env.BENCH_STORE === "sqlite";
const AMOUNT = Number(process.env.BENCH_AMOUNT ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const body = JSON.stringify({ sku: "A-1", quantity: 2 });

let counter = 0;
const replayKeys = Array.from({ length: 100 }, (_, i) => `gw-cpu-replay-${process.pid}-${i}`);
const keys = {
  none: () => undefined,
  unique: () => `gw-cpu-${process.pid}-${++counter}`,
  replay: () => replayKeys[++counter % replayKeys.length],
};

const last = cores - 1;

const children: Child[] = [];
const dir = mkdtempSync(join(tmpdir(), "oncely-bench-gateway-cpu-"));
try {
  const others = last > 1 ? `0-${last - 1}` : "0";
  let pinned = pin(process.pid, others);
  const upstream = await startChild("bench/server.ts", ["bare"]);
  children.push(upstream);
  pinned = pin(upstream.pid, others) && pinned;
  let files = 0;
  const serve = (root: string) =>
    startChild(join(root, "dist/cli/main.js"), [
      ...["serve", "--port", "0", "--upstream", upstream.url, "--log-level", "warn"],
      ...["--store", SQLITE ? `sqlite:${join(dir, `${++files}.db`)}` : "memory:"],
    ]);
  const targets: Array<{ name: string; child: Child }> = [
    { name: "least Node proxy", child: await startChild("bench/least-proxy.ts", [upstream.url]) },
    { name: "oncely serve", child: await serve(".") },
  ];
  const baselineDir = process.env.BENCH_BASELINE_DIR;
  if (baselineDir) targets.push({ name: `baseline ${baselineDir}`, child: await serve(baselineDir) });
  for (const { child } of targets) {
    children.push(child);
    pinned = pin(child.pid, String(last)) && pinned;
    // Warm up, and store the replay keys.
    for (const key of replayKeys) await postOrder(child.url, key, body);
  }
  const scenarios = targets.flatMap(({ name, child }) =>
    (name === "least Node proxy" ? (["none"] as const) : (["none", "unique", "replay"] as const)).map(
      (key) => ({ name: `${name}, ${key === "none" ? "no key" : `${key} keys`}`, child, key }),
    ),
  );
  // Unmeasured: the first requests of a scenario run while V8 still compiles its paths.
  for (const { child, key } of scenarios) {
    await load({
      url: `${child.url}/orders`,
      connections: CONNECTIONS,
      seconds: 0,
      amount: 5_000,
      body,
      key: keys[key],
    });
  }
  const samples = await cpuRounds(
    scenarios.map(({ name, child, key }) => ({
      name,
      pid: child.pid,
      url: `${child.url}/orders`,
      key: keys[key],
    })),
    { rounds: ROUNDS, amount: AMOUNT, connections: CONNECTIONS, body },
  );
  console.log(
    `\n${CONNECTIONS} connections, ${AMOUNT} requests per run, ${ROUNDS} interleaved rounds; ${SQLITE ? "SQLite" : "memory"} store; ${pinned ? "proxies pinned to one core" : "not pinned"}; Node ${process.version}.\n`,
  );
  const pairedRatio = (of: number, to: number) => pairedCpuRatio(samples[of], samples[to]);
  console.log(
    "| proxy, requests | CPU µs per request (median) | vs least proxy | runs |\n| --- | ---: | ---: | --- |",
  );
  for (const [index, { name }] of scenarios.entries()) {
    const runs = samples[index]?.cpu ?? [];
    const runsText = runs.map((run) => run.toFixed(0)).join(" ");
    console.log(
      `| ${name} | ${median(runs).toFixed(0)} | ${pairedRatio(index, 0).toFixed(2)}× | ${runsText} |`,
    );
  }
  if (baselineDir) {
    const ratios = ["no key", "unique keys", "replays"].map(
      (what, index) => `${what} ${pairedRatio(1 + index, 4 + index).toFixed(2)}×`,
    );
    console.log(`\nThis build against the baseline, median of the per-round ratios: ${ratios.join(", ")}.`);
  }
} finally {
  await Promise.all(children.map((child) => child.stop("SIGKILL")));
  rmSync(dir, { recursive: true, force: true });
}
