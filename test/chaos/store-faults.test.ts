// Chaos: the store fails under load while Express app processes use it: Redis and PostgreSQL
// (servers of the test's own) stopped and started again, frozen with SIGSTOP for longer than
// the lease, or reached through a proxy that delays, stalls and cuts connections.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createStore, type IdempotencyStore } from "../../src/index.js";
import {
  type OwnServer,
  ownPostgres,
  ownRedis,
  postgresMissing,
  redisMissing,
} from "../helpers/own-servers.js";
import { unavailable } from "../helpers/services.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { expectClean } from "./expect-clean.js";
import type { Random } from "./random.js";
import { CHAOS_RUNS, chaosApp, chaosRun, LEASE_MS, type RunOptions, testTimeout } from "./run.js";
import type { Fault } from "./verdict.js";

const BUDGET_MS = 45_000;

const servers = [
  { name: "Redis", missing: redisMissing(), start: ownRedis },
  { name: "PostgreSQL", missing: postgresMissing(), start: ownPostgres },
].flatMap((server) => {
  const subject = `chaos: ${server.name} failing under load`;
  if (server.missing === undefined) return [server];
  unavailable(subject, server.missing);
  return [];
});

type Chaos = NonNullable<RunOptions["chaos"]>;

/** Runs `action` as a fault of `kind`, from its start to its end (see Fault for `harms`). */
async function fault(
  faults: Fault[],
  kind: string,
  action: () => Promise<void>,
  harms = true,
): Promise<void> {
  const entry: Fault = { kind, from: Date.now(), to: Number.POSITIVE_INFINITY, harms };
  faults.push(entry);
  try {
    await action();
  } finally {
    entry.to = Date.now();
  }
}

/** `count` times, after a random pause, runs `step` (unless the load is over). */
async function every(random: Random, signal: AbortSignal, count: number, step: () => Promise<void>) {
  for (let i = 0; i < count && !signal.aborted; i++) {
    await sleep(random.between(500, 2500));
    if (!signal.aborted) await step();
  }
}

describe.each(servers)("chaos: $name failing under load", ({ name, start }) => {
  let server: OwnServer;
  let store: IdempotencyStore | undefined;
  let proxy: TcpProxy | undefined;
  afterEach(async () => {
    await store?.close();
    await proxy?.close();
    await server?.close();
  });
  afterAll(async () => {
    await server?.close();
  });

  /** Runs the apps on `storeUrl` (the test looks at the store directly) under `chaos`. */
  async function run(kind: string, storeUrl: string, chaos: Chaos) {
    store = await createStore(server.url);
    for (let run = 0; run < CHAOS_RUNS; run++) {
      const verdict = await chaosRun({
        name: `${kind}-${name}`,
        spawn: chaosApp(storeUrl),
        owners: 2,
        keys: 20,
        randomKills: 1,
        pointKills: 0,
        store,
        budgetMs: BUDGET_MS,
        // Longer than the first fault can take to come (2.5 s), on any machine.
        spreadMs: 4_000,
        chaos,
      });
      expectClean(verdict);
      expect(verdict.faults).toBeGreaterThanOrEqual(1);
    }
  }

  it(
    "keeps every completed record and executes each key once while its record lives, through store restarts",
    async () => {
      server = await start();
      await run("restart", server.url, async ({ random, faults, look, signal }) =>
        every(random, signal, 2, async () => {
          // What is completed now must still be there after the restart, unchanged.
          await look();
          const crash = random.next() < 0.5;
          await fault(faults, crash ? "crash" : "stop", async () => {
            await server.stop(crash);
            await sleep(random.between(200, 1500));
            await server.start();
          });
        }),
      );
    },
    testTimeout(BUDGET_MS),
  );

  it(
    "executes each key once while its record lives when the store is frozen (SIGSTOP) longer than the lease",
    async () => {
      server = await start();
      await run("freeze", server.url, async ({ random, faults, signal }) =>
        every(random, signal, 1, () =>
          fault(faults, "freeze", async () => {
            server.freeze(true);
            await sleep(random.between(LEASE_MS + 200, 2 * LEASE_MS));
            server.freeze(false);
          }),
        ),
      );
    },
    testTimeout(BUDGET_MS),
  );

  it(
    "executes each key once while its record lives behind a link that delays, stalls and cuts connections",
    async () => {
      server = await start();
      proxy = await startTcpProxy(Number(new URL(server.url).port));
      const through = new URL(server.url);
      through.port = String(proxy.port);
      const link = proxy;
      await run("proxy", through.toString(), async ({ random, faults, signal }) =>
        every(random, signal, 4, async () => {
          const action = random.pick(["delay", "stall", "cut"] as const);
          const act = async () => {
            if (action === "cut") link.cut();
            else if (action === "stall") {
              const ms = random.between(300, 2 * LEASE_MS);
              link.stall(ms);
              await sleep(ms);
            } else {
              link.delayReplies(random.between(100, 800));
              await sleep(random.between(500, 2000));
              link.delayReplies(0);
            }
          };
          await fault(faults, action, act, action !== "delay");
        }),
      );
    },
    testTimeout(BUDGET_MS),
  );
});
