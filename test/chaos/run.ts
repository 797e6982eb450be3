// One chaos run: owners (app or gateway processes) in front of one store, clients sending
// every key until answered, SIGKILLs at random moments and at the witness's worst moments,
// optional store faults; then the store is inspected and the run judged (verdict.ts).
import { randomUUID } from "node:crypto";
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ANONYMOUS_SCOPE, type IdempotencyStore } from "../../src/index.js";
import { type Child, startChild } from "../helpers/processes.js";
import { serviceUrl } from "../helpers/services.js";
import { temporaryDirectory } from "../helpers/stores.js";
import { drive } from "./load.js";
import { chaosSeed, type Random, seeded } from "./random.js";
import { type Fault, type Held, judge, type Kill, type Verdict } from "./verdict.js";
import { type Execution, type KillPoint, startWitness } from "./witness.js";

/** How many times each chaos test runs: CHAOS_RUNS (`npm run chaos` sets it), else once. */
export const CHAOS_RUNS = Number(process.env.CHAOS_RUNS ?? 1);

/**
 * The lease of the chaos runs: short, so that the keys of killed owners lapse within a run,
 * and long enough that an owner on a loaded machine still renews in time.
 */
export const LEASE_MS = 3000;

/** The time a chaos test may take: its runs' budgets, and a minute for starting and looking. */
export const testTimeout = (budgetMs: number) => CHAOS_RUNS * (budgetMs + 60_000);

/** Spawns an owner: the Express app of test/fixtures/chaos-app.ts on `storeUrl`. */
export const chaosApp = (storeUrl: string) => (_owner: string, witnessUrl: string) =>
  startChild("test/fixtures/chaos-app.ts", [storeUrl, witnessUrl, JSON.stringify({ lease: LEASE_MS })]);

export interface RunOptions {
  readonly name: string;
  /** Starts owner `owner`, whose side effect (or upstream) is `witnessUrl`. */
  readonly spawn: (owner: string, witnessUrl: string) => Promise<Child>;
  /** Owners up at once. */
  readonly owners: number;
  readonly keys: number;
  /** SIGKILLs at random moments. */
  readonly randomKills: number;
  /** SIGKILLs at the witness: right after a side effect, or right after it answered. */
  readonly pointKills: number;
  /** A connection of the test's own to the store, to look at records. */
  readonly store: IdempotencyStore;
  /**
   * Store faults, run alongside the load until `signal` aborts; each fault is pushed on
   * `faults` when it starts and its `to` set when it ends. `look` records what the store
   * holds now (call it before stopping the store: no completed record may be lost).
   */
  readonly chaos?: (context: {
    random: Random;
    faults: Fault[];
    look: () => Promise<void>;
    signal: AbortSignal;
  }) => Promise<void>;
  /** Time for the whole load; clients give up after it. */
  readonly budgetMs: number;
  /** Starts the keys over this time (see `LoadOptions.spreadMs`). @default 0 */
  readonly spreadMs?: number;
}

/** Runs once and returns the verdict, after printing it with the seed. */
export async function chaosRun(options: RunOptions): Promise<Verdict> {
  const random = seeded(chaosSeed());
  const prefix = `chaos-${randomUUID().slice(0, 8)}`;
  const keys = Array.from({ length: options.keys }, (_, i) => `${prefix}-${i}`);
  const kills: Kill[] = [];
  const faults: Fault[] = [];
  const live = new Map<string, Child>();
  const restarts: Promise<void>[] = [];
  let generation = 0;

  /** SIGKILLs `owner` and starts another in its place; false when it was dead already. */
  const kill = (owner: string, moment: Kill["moment"]): boolean => {
    const child = live.get(owner);
    if (!child) return false;
    live.delete(owner);
    // Its point kill, if one was due, can no longer come: the next execution takes it.
    if (pending?.owner === owner) {
      requeue(pending.moment);
      pending = undefined;
    }
    child.process.kill("SIGKILL");
    kills.push({ owner, at: Date.now(), moment });
    restarts.push(start());
    return true;
  };
  // The executions whose owner dies at the witness, alternately right after the answer and
  // right after the side effect: picked among the first four fifths, so that the load is
  // still running. A kill whose owner is dead already (its request was on the way, or a
  // random kill came first) passes to the next execution.
  const pointKills = new Set<number>();
  while (pointKills.size < options.pointKills)
    pointKills.add(random.between(1, Math.floor(options.keys * 0.8)));
  const due = [...pointKills].sort((a, b) => a - b);
  const moments: Array<Exclude<KillPoint, "none">> = due.map((_, i) =>
    i % 2 === 0 ? "after-answer" : "before-answer",
  );
  // One at a time: two decided together could fall on one owner, and the second find it dead.
  let executed = 0;
  let pending: { readonly owner: string; readonly moment: Exclude<KillPoint, "none"> } | undefined;
  const requeue = (moment: Exclude<KillPoint, "none">) => {
    due.unshift(executed + 1);
    moments.unshift(moment);
  };
  const decide = (execution: Execution): KillPoint => {
    executed++;
    const moment = moments[0];
    if (
      pending ||
      moment === undefined ||
      due[0] === undefined ||
      due[0] > executed ||
      !live.has(execution.owner)
    )
      return "none";
    due.shift();
    moments.shift();
    pending = { owner: execution.owner, moment };
    return moment;
  };
  const witness = startWitness(decide, (owner, moment) => {
    pending = undefined;
    if (!kill(owner, moment)) requeue(moment);
  });
  /** Starts an owner; like a supervisor, tries again while it exits at once (its store is down). */
  const start = async () => {
    const owner = `${options.name}-${++generation}`;
    const url = await witness.listenFor(owner);
    for (let attempt = 1; ; attempt++) {
      try {
        live.set(owner, await options.spawn(owner, url));
        return;
      } catch (error) {
        if (attempt === 20) throw error;
        await sleep(500);
      }
    }
  };

  const seenCompleted = new Map<string, string>();
  const look = async () => {
    for (const [key, held] of await holdings(options.store, keys))
      if (held.state === "completed") seenCompleted.set(key, held.id);
  };

  try {
    await Promise.all(Array.from({ length: options.owners }, start));
    const stop = new AbortController();
    const startedAt = Date.now();
    const randomKilling = (async () => {
      for (let done = 0; done < options.randomKills && !stop.signal.aborted; ) {
        await sleep(random.between(200, 1500));
        // Every owner may be restarting after kills: wait for them rather than sleep again,
        // or a quick load could end before the kill comes.
        if (live.size === 0) await Promise.all(restarts);
        const owner = random.pick([...live.keys()]);
        if (owner !== undefined && !stop.signal.aborted) {
          kill(owner, "random");
          done++;
        }
      }
    })();
    const storeChaos = options.chaos?.({ random, faults, look, signal: stop.signal }) ?? Promise.resolve();
    const load = await drive({
      keys,
      random,
      concurrency: 8,
      deadline: startedAt + options.budgetMs,
      ...(options.spreadMs === undefined ? {} : { spreadMs: options.spreadMs }),
      target: () => {
        const urls = [...live.values()].map((child) => child.url);
        return urls.length ? random.pick(urls) : undefined;
      },
    });
    stop.abort();
    await Promise.all([randomKilling, storeChaos]);
    await Promise.all(restarts);

    // Every lease still running has lapsed by now: nothing is in flight, nobody renews.
    await sleep(LEASE_MS + 500);
    const final = await holdings(options.store, keys);
    const stuck = await stuckKeys(options.store, final);
    const verdict = judge({
      keys,
      executions: witness.executions,
      load,
      kills,
      faults,
      leaseMs: LEASE_MS,
      seenCompleted,
      final,
      stuck,
    });
    report(options.name, random.seed, Date.now() - startedAt, load.attempts, verdict);
    return verdict;
  } finally {
    await Promise.all([...live.values()].map((child) => child.stop("SIGKILL")));
    await witness.close();
  }
}

/** What the store holds for each key (the body's execution id, for a completed record). */
async function holdings(store: IdempotencyStore, keys: readonly string[]): Promise<Map<string, Held>> {
  const held = new Map<string, Held>();
  for (const key of keys) {
    const record = await store.get({ scope: ANONYMOUS_SCOPE, key });
    if (record === undefined) held.set(key, { state: "none" });
    else if (record.state === "in_flight") held.set(key, { state: "in_flight" });
    else {
      const { id } = JSON.parse(Buffer.from(record.firstChunk).toString("utf8")) as { id: string };
      held.set(key, { state: "completed", id });
    }
  }
  return held;
}

/** Keys in flight that a fresh claim cannot take over: stuck past their lease. */
async function stuckKeys(store: IdempotencyStore, held: ReadonlyMap<string, Held>): Promise<string[]> {
  const stuck: string[] = [];
  for (const [key, record] of held) {
    if (record.state !== "in_flight") continue;
    const claim = await store.claim({
      scope: ANONYMOUS_SCOPE,
      key,
      fingerprint: "chaos-probe",
      token: randomUUID(),
      leaseMs: 1000,
    });
    if (claim.outcome === "acquired") await store.release(claim.lease);
    else stuck.push(key);
  }
  return stuck;
}

/** Prints the counts (and appends them to CHAOS_REPORT, for `npm run chaos` to add up). */
function report(name: string, seed: number, ms: number, attempts: number, verdict: Verdict): void {
  const counts = {
    run: name,
    seed,
    seconds: Math.round(ms / 100) / 10,
    attempts,
    ...verdict,
    duplicates: verdict.duplicates.length,
    lost: verdict.lost.length,
    stuck: verdict.stuck.length,
    unanswered: verdict.unanswered.length,
    wrong: verdict.wrong.length,
    unexpected: verdict.unexpected.length,
  };
  console.log(`chaos ${JSON.stringify(counts)}`);
  for (const [what, list] of Object.entries(verdict))
    if (Array.isArray(list) && list.length > 0) console.log(`chaos ${what}:\n  ${list.join("\n  ")}`);
  if (process.env.CHAOS_REPORT) appendFileSync(process.env.CHAOS_REPORT, `${JSON.stringify(counts)}\n`);
}

/** A store the chaos runs share; `url` is called once per test, so SQLite gets a new file each time. */
export interface ChaosStore {
  readonly name: string;
  readonly url: () => string;
}

/**
 * SQLite, and each of `services` whose URL variable is set; for one that is not, a skipped
 * (or, in CI, failing) suite named by `subject` stands in its place (see `serviceUrl`).
 */
export function chaosStores(
  subject: (name: string) => string,
  services: readonly { readonly name: string; readonly variable: string }[],
): ChaosStore[] {
  return [
    { name: "SQLite", url: () => `sqlite:${join(temporaryDirectory(), "chaos.db")}` },
    ...services.flatMap(({ name, variable }) => {
      const url = serviceUrl(variable, subject(name));
      return url === undefined ? [] : [{ name, url: () => url }];
    }),
  ];
}
