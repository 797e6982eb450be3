// `npm run bench:peers`: oncely side by side with the idempotency libraries users would pick,
// one identical Express handler behind each (handler.ts, subjects.ts). Runs the correctness
// checks (correctness.ts), then the performance table (performance.ts), on a private
// redis-server started here (its CPU is the subjects' alone) and on the PostgreSQL database
// of ONCELY_TEST_POSTGRES_URL when set; rewrites docs/comparison.md.
// BENCH_ROUNDS (3), BENCH_AMOUNT (requests per run, 5000), BENCH_HANDLER_MS (the handler's
// simulated database call, 0) tune the performance runs; BENCH_PEERS_SKIP_PERF=1 runs the
// checks only.
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { type CpuMeter, postgresBackends, privateRedis, SHARE_REQUESTS } from "../store-cpu.js";
import { CHECKS, checkSubject } from "./correctness.js";
import { measure, type Placement, type Row } from "./performance.js";
import { SUBJECTS, type Subject } from "./subjects.js";

const settings = {
  rounds: Number(process.env.BENCH_ROUNDS ?? 3),
  amount: Number(process.env.BENCH_AMOUNT ?? 5000),
  handlerMs: Number(process.env.BENCH_HANDLER_MS ?? 0),
};
const run = randomUUID().slice(0, 8);
const dir = mkdtempSync(join(tmpdir(), "oncely-peers-"));
const redis = await privateRedis();
const postgresUrl = process.env.ONCELY_TEST_POSTGRES_URL;
const meters: CpuMeter[] = [];
// The machine's 1-minute load average when the performance runs began and ended: how shared it was.
const loads: number[] = [];

/** The store URL of a subject; PostgreSQL connections named after the subject and `purpose`, so their backends can be metered. */
function storeUrl(subject: Subject, purpose: string): string | undefined {
  switch (subject.store) {
    case "none":
      return "-";
    case "memory":
      return "memory:";
    case "sqlite":
      return `sqlite:${join(dir, `${purpose}.db`)}`;
    case "redis":
      return redis.url;
    case "postgres": {
      if (!postgresUrl) return undefined;
      const url = new URL(postgresUrl);
      url.searchParams.set("application_name", `oncely-peers-${run}-${purpose}`);
      return url.href;
    }
  }
}

const subjects = SUBJECTS.filter((subject) => storeUrl(subject, "probe") !== undefined);
if (!postgresUrl) console.log("no oncely PostgreSQL: ONCELY_TEST_POSTGRES_URL is not set");

try {
  const checked: string[][] = [];
  const checkedSubjects = subjects.filter((s) => s.store !== "none" && !s.yardstick);
  for (const subject of checkedSubjects) {
    console.log(`checking ${subject.name}`);
    checked.push(
      await checkSubject(subject, storeUrl(subject, "check") as string, subject.store !== "memory"),
    );
  }
  let rows: Row[] = [];
  if (process.env.BENCH_PEERS_SKIP_PERF !== "1") {
    loads.push(loadavg()[0] as number);
    const placements = new Map<Subject, Placement>();
    for (const subject of subjects) {
      const url = storeUrl(subject, "perf") as string;
      let meter: CpuMeter | undefined;
      if (subject.store === "redis") meter = redis.meter;
      if (subject.store === "postgres") {
        meter = await postgresBackends(postgresUrl as string, `oncely-peers-${run}-perf`);
        meters.push(meter);
      }
      placements.set(subject, { url, ...(meter ? { meter } : {}) });
    }
    rows = await measure(subjects, (subject) => placements.get(subject) as Placement, settings);
    loads.push(loadavg()[0] as number);
  }
  writeFileSync("docs/comparison.md", await page(checkedSubjects, checked, rows));
  console.log("wrote docs/comparison.md");
} finally {
  for (const meter of meters) await meter.close().catch(() => {});
  await redis.meter.close();
  rmSync(dir, { recursive: true, force: true });
}

/** The version of a package installed for the harness. */
function version(name: string): string {
  const file = join("bench/peers/node_modules", name, "package.json");
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
}

async function postgresVersion(): Promise<string> {
  if (!postgresUrl) return "not run";
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ server_version: string }>("SHOW server_version");
    return rows[0]?.server_version ?? "?";
  } finally {
    await client.end();
  }
}

async function page(checkedSubjects: readonly Subject[], checked: readonly string[][], rows: readonly Row[]) {
  const commit = execFileSync("git", ["log", "-1", "--format=%h"], { encoding: "utf8" }).trim();
  const redisVersion = /v=(\S+)/.exec(execFileSync("redis-server", ["--version"], { encoding: "utf8" }))?.[1];
  const cpu = cpus();
  const cell = (text: string) => text.replaceAll("|", "\\|");
  const µs = (value: number | undefined) => (value === undefined ? "(in Node)" : value.toFixed(1));
  return [
    "# oncely side by side with other idempotency libraries",
    "",
    "<!-- Generated by `npm run bench:peers` (bench/peers/main.ts): edit the generator, not this page. -->",
    "",
    "One Express 5 app, one handler (`bench/peers/handler.ts`: create an order, answer 201 with a `Location` header and a JSON body), and in front of it, in turn: nothing, oncely on each of its stores, the three libraries a Node team would otherwise pick, each on Redis, and as a yardstick the least layer on Redis (the fewest Redis commands any layer needs, by hand; in the performance table only). Every subject runs in its own process; the harness has its own `package.json` (`bench/peers/`), so none of these libraries is a dependency of oncely.",
    "",
    "<!-- doc-test: not run: installs the peers and runs for minutes against Redis and PostgreSQL -->",
    "```sh",
    "ONCELY_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test_peers npm run bench:peers",
    "```",
    "",
    `Run at oncely ${commit}, ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, on ${cpu.length} × ${cpu[0]?.model ?? "?"} with ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, Redis ${redisVersion} (started by the harness, no persistence), PostgreSQL ${await postgresVersion()} (shared server, default durability), SQLite through better-sqlite3 ${version("../../../node_modules/better-sqlite3")}. The machine is shared with other work and noisy: every figure is a median over rounds, and the ratios are the medians of per-round ratios.`,
    "",
    "## Versions",
    "",
    "| subject | package | version | how it is wired |",
    "| --- | --- | --- | --- |",
    `| oncely | this repository's build (\`dist\`) | ${commit} | \`idempotency({ store })\` from \`oncely/express\`, before \`express.json()\` |`,
    "| least layer (a yardstick, performance only) | `bench/least-layer.ts` on `bench/least-stores.ts` | this repository | the least any layer must do, by hand, happy path only: hash the body inside `express.json()`, claim with one `SET … NX GET`, store status, headers and body with one `SET` before answering; no key rules, no fingerprint check, no leases or fencing |",
    `| express-idempotency | express-idempotency, express-idempotency-redis-adapter | ${version("express-idempotency")}, ${version("express-idempotency-redis-adapter")} | \`idempotency({ dataAdapter })\` after \`express.json()\`; the route returns when \`isHit(req)\`, as its README says |`,
    `| @node-idempotency | @node-idempotency/core, /storage-adapter-redis, /shared | ${version("@node-idempotency/core")}, ${version("@node-idempotency/storage-adapter-redis")}, ${version("@node-idempotency/shared")} | its Express middleware (\`@node-idempotency/express\`) is not on the npm registry: \`bench/peers/subjects.ts\` has the smallest glue doing what that package's \`packages/plugin-express/src/middleware.ts\` does (onRequest, onResponse from a \`res.send\` hook, headers of \`headers2Cache\`, statuses of \`idempotency2HttpCodeMap\`) |`,
    `| Powertools | @aws-lambda-powertools/idempotency (cache persistence layer), @redis/client | ${version("@aws-lambda-powertools/idempotency")}, ${version("@redis/client")} | built for Lambda functions: \`makeIdempotent\` wraps the handler's business logic called with \`{ key, body }\` (\`eventKeyJmesPath: "key"\`), returning status, headers and body, which the route sends; \`registerLambdaContext\` with a context-like object giving 60 s bounds an in-progress record, as in Lambda; payload validation off (see below why); its errors mapped by the harness (in progress 409, else 500) |`,
    "",
    "## Correctness",
    "",
    `Each check runs on fresh processes whose handler takes 250 ms, so that duplicates overlap. Cells say what happened: statuses, and how often the handler ran. "identical" means same status, same body bytes and every header of the first answer (except \`date\` and connection headers) present with the same value.`,
    "",
    `| check | ${checkedSubjects.map((s) => s.name).join(" | ")} |`,
    `| --- | ${checkedSubjects.map(() => "---").join(" | ")} |`,
    ...CHECKS.map(
      (check, index) => `| ${check} | ${checked.map((cells) => cell(cells[index] ?? "")).join(" | ")} |`,
    ),
    "",
    "Where a peer cannot do something, its own source says why (paths inside its npm package, at the versions above):",
    "",
    "- express-idempotency looks the key up and then writes it, two separate commands (`dist/services/idempotencyService.js` lines 89 and 127, and the Redis adapter's `src/index.ts` lines 60 and 81 are a plain GET and a plain SET): concurrent duplicates all find nothing and all run. It keeps only `content-type` of the answer (`idempotencyService.js` line 235), stores it from a `res.send` hook without waiting (line 184), and after a replay calls `next()` (line 105), so a route that forgets `isHit()` runs again. It compares a reused key's parsed body with `deep-equal` and answers 417 (`dist/defaults/defaultIntentValidator.js` line 23); it has no limit on key length.",
    "- @node-idempotency claims with `SET NX` (`@node-idempotency/core/dist/idempotency.js` line 85), so duplicates run once; an in-flight duplicate is refused (line 118: 409 through `idempotency2HttpCodeMap`) unless `inProgressStrategy.wait` polls. Only `Content-Type` is kept for a replay (`@node-idempotency/shared/dist/http.js` line 12), and its Express middleware stores the answer without waiting for Redis, so a retry sent at once can meet the in-progress record. Keys longer than 256 characters are refused (`idempotency.js` line 58).",
    "- Powertools claims with `SET NX` too (`lib/esm/persistence/CachePersistenceLayer.js` line 177) and refuses an in-flight duplicate with `IdempotencyAlreadyInProgressError` (`lib/esm/IdempotencyHandler.js` line 83). It knows nothing of HTTP: whatever the function returns is replayed, so the harness returns status and headers from the function. The key is hashed (`lib/esm/persistence/BasePersistenceLayer.js` line 292), so no key is too long; a request without a key skips idempotency (`IdempotencyHandler.js` line 250). Two things the harness had to work around: payload validation (`payloadValidationJmesPath`) breaks every replay on this persistence layer, because a completed record is written without the payload hash (`CachePersistenceLayer.js` lines 131 to 143) and the check then compares the request's hash with nothing (`BasePersistenceLayer.js` line 347), answering `IdempotencyValidationError`; so it runs without, and a reused key with another payload gets the first answer. And outside Lambda, with no context registered, an in-progress record has no in-progress expiry, so a concurrent duplicate takes it for an orphan, overwrites it and runs the handler a second time (`CachePersistenceLayer.js` lines 215 to 226 and 236; two executions for 50 duplicates in a trial run).",
    "",
    "## Performance",
    "",
    rows.length === 0
      ? "Not run (`BENCH_PEERS_SKIP_PERF=1`)."
      : [
          `50 connections, ${settings.amount} requests per run, ${settings.rounds} rounds with every scenario in turn, handler delay ${settings.handlerMs} ms. Bare Express gets the very requests of the unique-key runs, key header included. Node CPU from /proc of the subject's server process; store CPU from /proc of the redis-server (one for all Redis subjects, which never run at the same time) or of the PostgreSQL backends of the subject's connections (WAL writer and checkpointer not counted); SQLite and memory work inside Node. /proc counts CPU in ticks of 10 ms, so the store CPU of a short run is coarse; the Redis command column (time inside the commands the subject sent, from \`INFO commandstats\`, network I/O not included; Redis also lists the commands a script runs under their own names, inside the script's time, so each command counts in the share of its calls that clients sent, taken from MONITOR over ${SHARE_REQUESTS} requests of each scenario before the rounds) is the finer one. The load generator, the servers and the stores share the machine's cores, with other work: the load average was ${loads.map((load) => load.toFixed(1)).join(" at the start and ")} at the end, on ${cpus().length} cores, so requests/s swing between rounds and the CPU columns are the steadier comparison.`,
          "",
          "| scenario | requests/s | vs bare | p50 ms | p99 ms | app CPU µs/request | store CPU µs/request | Redis command µs/request |",
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
          ...rows.map((row) =>
            row.failure
              ? `| ${row.name} | failed: ${cell(row.failure)} | | | | | | |`
              : `| ${row.name}${row.failedRuns > 0 ? ` (${row.failedRuns} of ${settings.rounds} runs failed)` : ""} | ${row.rps.toFixed(0)} | ${Number.isNaN(row.versusBare) ? "n/a" : `${row.versusBare.toFixed(2)}×`} | ${row.p50} | ${row.p99} | ${row.node.toFixed(0)} | ${µs(row.store)} | ${row.commands === undefined ? "" : row.commands.toFixed(1)} |`,
          ),
        ].join("\n"),
    "",
  ].join("\n");
}
