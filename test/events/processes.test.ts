// oncely/events across real processes: two workers (test/fixtures/event-worker.ts) share one
// store and write their side effects to one SQLite table, which is the ground truth.
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { createStore } from "../../src/index.js";
import { type Reply, send } from "../helpers/http.js";
import { type Child, startChild } from "../helpers/processes.js";
import { temporaryDirectory } from "../helpers/stores.js";
import { sleep } from "./support.js";

const worker = "test/fixtures/event-worker.ts";

/** SQLite always; Redis and PostgreSQL when their test URLs are set. */
const stores: Array<{ name: string; url: (dir: string) => string }> = [
  { name: "a SQLite file", url: (dir) => `sqlite:${join(dir, "events.db")}` },
];
const { ONCELY_TEST_REDIS_URL: redis, ONCELY_TEST_POSTGRES_URL: postgres } = process.env;
if (redis) stores.push({ name: "Redis", url: () => redis });
if (postgres) stores.push({ name: "PostgreSQL", url: () => postgres });

interface Delivery {
  readonly id: string;
  readonly fail?: boolean;
  readonly delay?: number;
}

/** The value the worker's handler returns, and so what every duplicate must get back. */
interface Effect {
  readonly eventId: string;
  readonly pid: number;
  readonly token: string;
}

interface Answer {
  readonly delivery: Delivery;
  readonly status: number;
  readonly body: { outcome?: string; value?: Effect; code?: string };
}

/** A small seeded generator, so a failing run can be replayed exactly. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs `tasks` with at most `limit` in flight at once. */
async function pool(tasks: Array<() => Promise<void>>, limit: number): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: limit }, async () => {
    while (next < tasks.length) await (tasks[next++] as () => Promise<void>)();
  });
  await Promise.all(lanes);
}

/** Every side-effect row, grouped by event id. */
function readEffects(path: string): Map<string, Array<{ pid: number; token: string }>> {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare("SELECT event_id, pid, token FROM effects").all() as Array<{
      event_id: string;
      pid: number;
      token: string;
    }>;
    const grouped = new Map<string, Array<{ pid: number; token: string }>>();
    for (const { event_id: id, pid, token } of rows)
      grouped.set(id, [...(grouped.get(id) ?? []), { pid, token }]);
    return grouped;
  } finally {
    db.close();
  }
}

describe.each(stores)("oncely/events across two processes sharing $name", ({ url }) => {
  const children: Child[] = [];
  afterEach(async () => {
    await Promise.all(children.splice(0).map((child) => child.stop("SIGKILL")));
  });

  /** Starts two workers on one store and one effects table, in a scope of their own. */
  const startWorkers = async (options: object) => {
    const dir = temporaryDirectory();
    const effects = join(dir, "effects.db");
    const args = [url(dir), effects, `events-${randomUUID()}`, JSON.stringify(options)];
    const workers = await Promise.all([startChild(worker, args), startChild(worker, args)]);
    children.push(...workers);
    const deliver = async (to: Child, delivery: Delivery): Promise<Answer> => {
      const reply: Reply = await send(to.url, { body: JSON.stringify(delivery) });
      return { delivery, status: reply.status, body: reply.json() as Answer["body"] };
    };
    return { workers: workers as [Child, Child], effects, deliver };
  };

  it("performs each of 1,000 events' side effects exactly once through duplicates, concurrency and failures", async () => {
    const { workers, effects, deliver } = await startWorkers({ concurrent: "wait", waitTimeout: 30_000 });
    const next = random(6);
    const ids = Array.from({ length: 1000 }, (_, i) => `evt_${i}_${randomUUID()}`);
    const shuffled = [...ids].sort(() => next() - 0.5);
    // 30% are delivered twice: 100 with the duplicate at the same moment on the other
    // worker, 200 with the duplicate later. 5% fail on their first delivery.
    const concurrent = new Set(shuffled.slice(0, 100));
    const later = shuffled.slice(100, 300);
    const failing = new Set([...ids].sort(() => next() - 0.5).slice(0, 50));
    const answers: Answer[] = [];
    const record = (answer: Answer) => void answers.push(answer);
    const pick = () => workers[next() < 0.5 ? 0 : 1];

    const firstRound = ids.map((id, i) => async () => {
      const [here, there] = i % 2 === 0 ? workers : [workers[1], workers[0]];
      const first = { id, fail: failing.has(id), ...(concurrent.has(id) ? { delay: 50 } : {}) };
      if (!concurrent.has(id)) return record(await deliver(here, first));
      (await Promise.all([deliver(here, first), deliver(there, { id, delay: 50 })])).forEach(record);
    });
    await pool(firstRound, 16);
    const secondRound = [
      ...[...failing].map((id) => async () => record(await deliver(pick(), { id }))),
      ...later.map((id) => async () => record(await deliver(pick(), { id }))),
    ].sort(() => next() - 0.5);
    await pool(secondRound, 16);

    const rows = readEffects(effects);
    const problems: string[] = [];
    for (const id of ids) {
      const mine = answers.filter((answer) => answer.delivery.id === id);
      const executed = mine.filter((answer) => answer.body.outcome === "executed");
      const effect = rows.get(id) ?? [];
      if (executed.length !== 1) problems.push(`${id}: executed ${executed.length} times`);
      if (effect.length !== 1) problems.push(`${id}: ${effect.length} side effects`);
      const value = executed[0]?.body.value;
      if (value && (value.token !== effect[0]?.token || value.pid !== effect[0]?.pid)) {
        problems.push(`${id}: the executed answer does not match the side effect`);
      }
      for (const answer of mine) {
        if (answer.status === 500 && !answer.delivery.fail) problems.push(`${id}: an unexpected failure`);
        if (
          answer.body.outcome === "duplicate" &&
          JSON.stringify(answer.body.value) !== JSON.stringify(value)
        ) {
          problems.push(
            `${id}: a duplicate got ${JSON.stringify(answer.body.value)}, not ${JSON.stringify(value)}`,
          );
        }
        if (answer.body.outcome === "in_progress") problems.push(`${id}: told in progress despite waiting`);
      }
    }
    expect(problems).toEqual([]);
    expect(rows.size).toBe(1000);
    expect(answers).toHaveLength(1000 + 100 + 200 + 50);
    // Each failing first delivery failed once, unless its concurrent twin had claimed the event first.
    const failed = answers.filter((answer) => answer.status === 500).map((answer) => answer.delivery.id);
    const alone = (id: string) => !concurrent.has(id);
    expect(failed.filter(alone).sort()).toEqual([...failing].filter(alone).sort());
    expect(answers.filter((answer) => answer.body.outcome === "duplicate").length).toBeGreaterThanOrEqual(
      300,
    );
    // Both processes did real work.
    const pids = new Set([...rows.values()].map((effect) => effect[0]?.pid));
    expect(pids).toEqual(new Set(workers.map((child) => child.pid)));
  }, 180_000);

  it("lets another worker take an event over once the lease of a killed worker lapses", async () => {
    const { workers, effects, deliver } = await startWorkers({ lease: 1_000, concurrent: "reject" });
    const [doomed, survivor] = workers;
    const id = `evt_${randomUUID()}`;
    const killed = deliver(doomed, { id, delay: 30_000 }).catch(() => "killed");
    await sleep(300);
    await doomed.stop("SIGKILL");
    expect(await killed).toBe("killed");

    expect((await deliver(survivor, { id })).body.outcome).toBe("in_progress");
    await sleep(1_200);
    const takeover = await deliver(survivor, { id });
    expect(takeover.body).toMatchObject({ outcome: "executed", value: { eventId: id, pid: survivor.pid } });
    expect((await deliver(survivor, { id })).body).toMatchObject({
      outcome: "duplicate",
      value: takeover.body.value,
    });
    expect(readEffects(effects).get(id)).toEqual([{ pid: survivor.pid, token: takeover.body.value?.token }]);
  }, 60_000);
});

describe("oncely/events fencing across processes sharing a SQLite file", () => {
  const children: Child[] = [];
  afterEach(async () => {
    await Promise.all(children.splice(0).map((child) => child.stop("SIGKILL")));
  });

  it("stops a frozen worker that wakes after a takeover from committing or overwriting the record", async () => {
    const dir = temporaryDirectory();
    const effects = join(dir, "effects.db");
    const args = [`sqlite:${join(dir, "events.db")}`, effects, "fencing", JSON.stringify({ lease: 500 })];
    const [stale, fresh] = await Promise.all([startChild(worker, args), startChild(worker, args)]);
    children.push(stale, fresh);
    const deliver = async (to: Child, delivery: Delivery) =>
      (await send(to.url, { body: JSON.stringify(delivery) })).json() as Answer["body"];
    const id = `evt_${randomUUID()}`;

    const staleAnswer = deliver(stale, { id, delay: 600 });
    // Frozen once it holds the lease, not after a fixed pause: under load the delivery can
    // take longer than any pause, and a worker frozen before its claim would find a replay.
    const events = await createStore(`sqlite:${join(dir, "events.db")}`);
    try {
      while ((await events.get({ scope: "fencing", key: id }))?.state !== "in_flight") await sleep(5);
    } finally {
      await events.close();
    }
    stale.process.kill("SIGSTOP");
    await sleep(900); // the frozen owner cannot renew; its lease lapses
    const takeover = await deliver(fresh, { id });
    expect(takeover).toMatchObject({ outcome: "executed", value: { pid: fresh.pid } });
    stale.process.kill("SIGCONT");

    // On waking, the stale handler's signal is aborted before it commits, and its key is fenced.
    expect(await staleAnswer).toMatchObject({ code: "ONCELY_LEASE_LOST" });
    for (const child of [stale, fresh]) {
      expect(await deliver(child, { id })).toEqual({
        outcome: "duplicate",
        value: takeover.value,
        executedAt: expect.any(String),
      });
    }
    expect(readEffects(effects).get(id)).toEqual([{ pid: fresh.pid, token: takeover.value?.token }]);
  }, 60_000);
});
