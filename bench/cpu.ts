// `npm run bench:cpu`: the server's own CPU time per request, bare Express against the same
// app behind oncely with the memory store (unique keys and replays). Steadier than
// requests/s on a small shared machine: with taskset available, the servers run on the last
// core and the load generator on the others, and the CPU time comes from /proc/<pid>/stat.
// Each scenario sends AMOUNT requests, ROUNDS times interleaved; medians are reported, and
// ratios are medians of per-round ratios.
// BENCH_BASELINE_DIR=<another built checkout> adds that checkout's oncely as rows (unique keys and replays), to
// compare a change with what it replaces in the same run.
// BENCH_CONNECTIONS sets the load generator's connections (50 by default).
// BENCH_ENCRYPTION=1 measures encryption at rest instead: memory and SQLite, each plain and
// encrypted, unique keys and replays; it writes docs/benchmarks.md's "encryption" section.
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Child, startChild } from "../test/helpers/processes.js";
import { median, postOrder } from "./load.js";
import { cores, pin } from "./pin.js";
import { writeBenchmarkSection } from "./report.js";
import { cpuRounds, pairedCpuRatio } from "./store-cpu.js";

const AMOUNT = Number(process.env.BENCH_AMOUNT ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const body = JSON.stringify({ sku: "A-1", quantity: 2 });

let counter = 0;
const replayKeys = Array.from({ length: 100 }, (_, i) => `cpu-replay-${process.pid}-${i}`);
const keys = {
  unique: () => `cpu-${process.pid}-${++counter}`,
  replay: () => replayKeys[++counter % replayKeys.length],
};

const last = cores - 1;
const servers: Array<{ name: string; script: string; variant: string; key: keyof typeof keys }> = [
  // The very requests of the unique-key rows, key header included: parsing a header the
  // client sends is the traffic's cost, not oncely's.
  {
    name: "bare Express (same requests, key ignored)",
    script: "bench/server.ts",
    variant: "bare",
    key: "unique",
  },
  // What about the least possible layer costs (see the file): the yardstick for the rows below.
  {
    name: "hand-written least layer (bench/least-layer.ts), unique keys",
    script: "bench/server.ts",
    variant: "least-layer",
    key: "unique",
  },
  { name: "oncely memory, unique keys", script: "bench/server.ts", variant: "memory", key: "unique" },
  { name: "oncely memory, replays", script: "bench/server.ts", variant: "memory", key: "replay" },
];
const encryption = process.env.BENCH_ENCRYPTION === "1";
if (encryption) {
  // A file each for plain and encrypted servers: a plain record is an error to an encrypted
  // store, and the other way round.
  const dir = mkdtempSync(join(tmpdir(), "oncely-bench-cpu-"));
  servers.splice(1);
  for (const [store, plain, encrypted] of [
    ["memory", "memory", "memory"],
    ["SQLite", `sqlite:${join(dir, "plain.db")}`, `sqlite:${join(dir, "encrypted.db")}`],
  ] as const) {
    for (const key of ["unique", "replay"] as const) {
      const what = key === "unique" ? "unique keys" : "replays";
      servers.push(
        { name: `oncely ${store}, ${what}`, script: "bench/server.ts", variant: plain, key },
        {
          name: `oncely ${store} encrypted, ${what}`,
          script: "bench/server.ts",
          variant: `${encrypted}+encrypted`,
          key,
        },
      );
    }
  }
}
const baselineDir = encryption ? undefined : process.env.BENCH_BASELINE_DIR;
if (baselineDir) {
  const commit = execFileSync("git", ["-C", baselineDir, "log", "-1", "--format=%h"], {
    encoding: "utf8",
  }).trim();
  servers.push(
    {
      name: `oncely memory, unique keys, baseline build of ${commit}`,
      script: join(baselineDir, "bench/server.ts"),
      variant: "memory",
      key: "unique",
    },
    {
      name: `oncely memory, replays, baseline build of ${commit}`,
      script: join(baselineDir, "bench/server.ts"),
      variant: "memory",
      key: "replay",
    },
  );
}

const children: Child[] = [];
try {
  let pinned = pin(process.pid, last > 1 ? `0-${last - 1}` : "0");
  for (const server of servers) {
    const child = await startChild(server.script, [server.variant]);
    children.push(child);
    pinned = pin(child.pid, String(last)) && pinned;
    // Warm up, and store the replay keys.
    for (const key of replayKeys) await postOrder(child.url, key, body);
  }
  const samples = await cpuRounds(
    servers.map((server, index) => {
      const child = children[index] as Child;
      return { name: server.name, pid: child.pid, url: `${child.url}/orders`, key: keys[server.key] };
    }),
    { rounds: ROUNDS, amount: AMOUNT, connections: CONNECTIONS, body },
  );
  // Each scenario against the bare run just before it.
  const pairedRatio = (of: number, to: number) => pairedCpuRatio(samples[of], samples[to]);
  const lines = [
    `Express 5 \`POST /orders\` of \`npm run bench\`, the compiled package; ${CONNECTIONS} connections, ${AMOUNT} requests per run, ${ROUNDS} interleaved rounds; ${pinned ? "servers pinned to one core, the load generator to the others" : "not pinned (no taskset or one core): expect more noise"}; CPU time of the server process from /proc; "vs bare" is the median of the per-round ratios; Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.`,
    "",
    "| server | CPU µs per request (median) | vs bare | requests/s (median) |",
    "| --- | ---: | ---: | ---: |",
    ...servers.map((server, index) => {
      const cpu = median(samples[index]?.cpu ?? []);
      return `| ${server.name} | ${cpu.toFixed(0)} | ${pairedRatio(index, 0).toFixed(2)}× | ${median(samples[index]?.rps ?? []).toFixed(0)} |`;
    }),
  ];
  if (encryption) {
    const pairs = servers.flatMap((server, index) =>
      server.variant.endsWith("+encrypted")
        ? [`${servers[index - 1]?.name.replace("oncely ", "")} ${pairedRatio(index, index - 1).toFixed(2)}×`]
        : [],
    );
    lines.push(
      "",
      `Encrypted against plain, CPU per request, median of the per-round ratios: ${pairs.join("; ")}. The answer is a small JSON body (one chunk).`,
    );
  } else {
    const oncely = servers.findIndex((server) => server.variant === "memory" && server.key === "unique");
    const leastLayer = servers.findIndex((server) => server.variant === "least-layer");
    lines.push(
      "",
      `oncely against the hand-written least layer, unique keys, median of the per-round ratios: ${pairedRatio(oncely, leastLayer).toFixed(2)}×.`,
    );
    if (baselineDir) {
      const replays = servers.findIndex((server) => server.variant === "memory" && server.key === "replay");
      lines.push(
        "",
        `This build against the baseline build, median of the per-round ratios: unique keys ${pairedRatio(oncely, servers.length - 2).toFixed(2)}×, replays ${pairedRatio(replays, servers.length - 1).toFixed(2)}×.`,
      );
    }
  }
  const text = lines.join("\n");
  console.log(`\n${text}`);
  writeBenchmarkSection(encryption ? "encryption" : "cpu", text);
} finally {
  await Promise.all(children.map((child) => child.stop("SIGKILL")));
}
