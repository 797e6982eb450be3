// `npm run bench:gateway`: requests/s and p50/p99 latency of one upstream reached directly,
// through nginx as a plain reverse proxy (no idempotency), through the least proxy Node can be
// (bench/least-proxy.ts, the yardstick of a Node hop), and through `oncely serve`: requests
// without a key (unguarded pass-through), unique keys on the memory and the SQLite store (one
// process, and SQLite with `--workers 2`), replays, and with the dashboard on (its hooks count
// every event). Every target runs in its own
// process; the load comes from this one (autocannon). Each scenario runs ROUNDS times,
// interleaved, and the median is reported with the ratio to direct in the same run.
// Writes the table into docs/benchmarks.md between the gateway markers.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type Child, startChild } from "../test/helpers/processes.js";
import { measureInterleaved, postOrder } from "./load.js";
import { writeBenchmarkSection } from "./report.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 50;
const body = JSON.stringify({ sku: "A-1", quantity: 2 });

let counter = 0;
const uniqueKey = () => `bench-${process.pid}-${++counter}`;
const replayKeys = Array.from({ length: 100 }, (_, i) => `replay-${process.pid}-${i}`);
const replayKey = () => replayKeys[++counter % replayKeys.length];

async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForPort(port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const connected = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });

    if (connected) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on port ${port}`);
}

/**
 * nginx as the plain reverse proxy: one worker (the gateway is one process too), upstream
 * keep-alive, no access log (the gateways run with --log-level warn), everything else default.
 * Runs in the foreground as this script's child and is stopped by its pid.
 */
async function startNginx(
  dir: string,
  upstreamPort: number,
): Promise<{ url: string; process: ChildProcess }> {
  const port = await freePort();
  const conf = join(dir, "nginx.conf");
  writeFileSync(
    conf,
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream app { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
    }
  }
}
`,
  );
  const nginx = spawn(
    "nginx",
    ["-p", dir, "-e", join(dir, "nginx-error.log"), "-c", conf, "-g", "daemon off;"],
    {
      stdio: "ignore",
    },
  );
  // Should this script die before its cleanup runs, nginx must not outlive it.
  process.once("exit", () => nginx.kill("SIGKILL"));
  await waitForPort(port);
  return { url: `http://127.0.0.1:${port}`, process: nginx };
}

const hasNginx = spawnSync("nginx", ["-v"]).status === 0;
const dir = mkdtempSync(join(tmpdir(), "oncely-bench-gateway-"));
const children: Child[] = [];
let nginx: ChildProcess | undefined;
try {
  const upstream = await startChild("bench/server.ts", ["bare"]);
  children.push(upstream);
  const serve = (store: string, ...extra: string[]) =>
    startChild("dist/cli/main.js", [
      "serve",
      "--port",
      "0",
      "--upstream",
      upstream.url,
      "--store",
      store,
      "--log-level",
      "warn",
      ...extra,
    ]);
  // The yardstick of a Node proxy hop: what any proxy written on node:http pays on this machine.
  const leastProxy = await startChild("bench/least-proxy.ts", [upstream.url]);
  children.push(leastProxy);
  const memory = await serve("memory:");
  const sqlite = await serve(`sqlite:${join(dir, "bench.db")}`);
  const sqliteWorkers = await serve(`sqlite:${join(dir, "bench-workers.db")}`, "--workers", "2");
  const watched = await serve("memory:", "--dashboard-token", "bench-dashboard-token-0123456789");
  children.push(memory, sqlite, sqliteWorkers, watched);
  const proxy = hasNginx ? await startNginx(dir, upstream.port) : undefined;
  nginx = proxy?.process;

  const scenarios: Array<{ name: string; url: string; key: () => string | undefined }> = [
    { name: "direct to the upstream", url: upstream.url, key: uniqueKey },
    ...(proxy ? [{ name: "nginx (plain reverse proxy)", url: proxy.url, key: uniqueKey }] : []),
    { name: "least Node proxy (bench/least-proxy.ts)", url: leastProxy.url, key: uniqueKey },
    { name: "oncely serve, no key (unguarded pass-through)", url: memory.url, key: () => undefined },
    { name: "oncely serve, memory, unique keys", url: memory.url, key: uniqueKey },
    { name: "oncely serve, memory, replays", url: memory.url, key: replayKey },
    { name: "oncely serve, memory, unique keys, dashboard on", url: watched.url, key: uniqueKey },
    { name: "oncely serve, memory, replays, dashboard on", url: watched.url, key: replayKey },
    { name: "oncely serve, SQLite, unique keys", url: sqlite.url, key: uniqueKey },
    { name: "oncely serve --workers 2, SQLite, unique keys", url: sqliteWorkers.url, key: uniqueKey },
    { name: "oncely serve, SQLite, replays", url: sqlite.url, key: replayKey },
  ];
  // Store the replay keys once, and warm every target up.
  for (const target of [upstream, memory, sqlite, sqliteWorkers, watched, ...(proxy ? [proxy] : [])]) {
    for (const key of replayKeys) await postOrder(target.url, key, body);
  }
  const rows = await measureInterleaved(
    scenarios.map((scenario) => ({ ...scenario, url: `${scenario.url}/orders` })),
    { rounds: ROUNDS, connections: CONNECTIONS, seconds: SECONDS, body },
  );
  const direct = rows[0] as (typeof rows)[number];
  const table = [
    "| scenario | requests/s (median) | vs direct | p50 ms | p99 ms | machine CPU busy |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map(
      (row) =>
        `| ${row.name} | ${row.rps.toFixed(0)} | ${(row.rps / direct.rps).toFixed(2)}× | ${row.p50} | ${row.p99} | ${row.busy === undefined ? "" : `${(row.busy * 100).toFixed(0)}%`} |`,
    ),
  ];
  const nginxNote = proxy
    ? `nginx ${/nginx\/(\S+)/.exec(spawnSync("nginx", ["-v"], { encoding: "utf8" }).stderr)?.[1] ?? ""} from Debian's packages: one worker, upstream keep-alive, no access log.`
    : "nginx row missing: nginx is not installed on this machine (`apt-get install nginx-light`).";
  const text = [
    `Upstream: the Express 5 \`POST /orders\` of \`npm run bench\` (JSON body, a 2 ms simulated database call, 201 JSON answer), in its own process. ${CONNECTIONS} connections, ${SECONDS} s per run, median of ${ROUNDS} interleaved runs; the gateways run with \`--log-level warn\` (no per-request log line). ${nginxNote} Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; the load generator, the upstream and the proxy share the machine's cores. "Machine CPU busy" is the share of all cores' time in use during the run (/proc/stat, hypervisor steal counted as busy): near 100%, a proxy can only gain CPU that the load generator or the upstream would lose.`,
    "",
    ...table,
  ].join("\n");
  console.log(`\n${text}`);
  writeBenchmarkSection("gateway", text);
} finally {
  if (nginx && nginx.exitCode === null) {
    const exited = once(nginx, "exit");
    nginx.kill("SIGTERM");
    await exited;
  }
  await Promise.all(children.map((child) => child.stop("SIGKILL")));
  rmSync(dir, { recursive: true, force: true });
}
