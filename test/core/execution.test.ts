// One execution's ends that only a failing or overtaken store reaches: a lease lost to
// another owner, renewals, chunk writes and releases that fail, and a body too large to
// keep. A real memory store; `failing` makes one of its methods reject.
import { describe, expect, it } from "vitest";
import { Execution } from "../../src/core/execution.js";
import type {
  ExecutedEvent,
  IdempotencyHooks,
  ReleasedEvent,
  StoreErrorEvent,
} from "../../src/core/hooks.js";
import { resolveOptions } from "../../src/core/options.js";
import { createStore } from "../../src/index.js";
import type { IdempotencyStore } from "../../src/store.js";
import { newKey } from "../helpers/http.js";
import { failing, slowAt, withMethod } from "../helpers/stores.js";

const event = { scope: "executions", method: "POST", path: "/orders" };

/** Claims a fresh key on `store` and starts its execution, with every hook recording. */
async function start(store: IdempotencyStore, options: { lease?: number; maxBodyBytes?: number } = {}) {
  const key = newKey();
  const claim = await store.claim({
    scope: event.scope,
    key,
    fingerprint: "f",
    token: `t-${key}`,
    leaseMs: options.lease ?? 60_000,
  });
  if (claim.outcome !== "acquired") throw new Error("a fresh key was not acquired");
  const events = {
    errors: [] as StoreErrorEvent[],
    released: [] as ReleasedEvent[],
    executed: [] as ExecutedEvent[],
  };
  const hooks: IdempotencyHooks = {
    onStoreError: (e) => void events.errors.push(e),
    onReleased: (e) => void events.released.push(e),
    onExecuted: (e) => void events.executed.push(e),
  };
  const execution = new Execution(resolveOptions({ store, hooks, ...options }), claim.lease, {
    ...event,
    key,
  });
  return { key, execution, events, lease: claim.lease };
}

const until = async (done: () => boolean) => {
  const deadline = Date.now() + 5000;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
};

describe("an execution", () => {
  it("reports how long it ran", async () => {
    const store = await createStore("memory:");
    const before = performance.now();
    const { execution, events } = await start(store);
    execution.respond(201, [], 0);
    await execution.finish();
    const ran = performance.now() - before;
    expect(events.executed[0]?.durationMs).toBeGreaterThanOrEqual(0);
    expect(events.executed[0]?.durationMs).toBeLessThanOrEqual(ran);
    await store.close();
  });

  it("owns the lease it was started with", async () => {
    const store = await createStore("memory:");
    const { key, execution, lease } = await start(store);
    expect(execution.lease).toBe(lease);
    expect(execution.lease).toMatchObject({ scope: event.scope, key });
    await execution.fail();
    await store.close();
  });

  it("stores and releases nothing once its lease was lost to another owner, whose record it leaves alone", async () => {
    const store = await createStore("memory:");
    const runs = [await start(store, { lease: 60 }), await start(store, { lease: 60 })];
    for (const { key, lease } of runs) {
      // Taken over: the lease goes and another owner claims the key.
      await store.release(lease);
      const other = await store.claim({
        scope: event.scope,
        key,
        fingerprint: "f",
        token: "other",
        leaseMs: 60_000,
      });
      expect(other.outcome).toBe("acquired");
    }
    // The next renewal (every 20 ms) finds the lease gone.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const [finished, failed] = runs as [(typeof runs)[0], (typeof runs)[0]];
    expect(finished.execution.respond(201, [], 2)).toBe("store-first");
    finished.execution.write(Buffer.from("ok"));
    await finished.execution.finish();
    expect(finished.events.executed).toEqual([expect.objectContaining({ status: 201, stored: false })]);
    // Nothing to give back: the key is the other owner's.
    await failed.execution.fail();
    expect(failed.events.released).toEqual([]);
    for (const { key, events } of runs) {
      expect(events.errors).toEqual([]);
      expect(await store.get({ scope: event.scope, key })).toMatchObject({
        state: "in_flight",
        token: "other",
      });
    }
    await store.close();
  });

  it("reports renewals that fail, as renew errors of its key", async () => {
    const store = await createStore("memory:");
    const failure = new Error("the store went away while renewing");
    const { key, execution, events } = await start(failing(store, "renew", failure), { lease: 30 });
    await until(() => events.errors.length > 0);
    await execution.fail();
    expect(events.errors[0]).toEqual({
      ...event,
      key,
      operation: "renew",
      error: failure,
      failedOpen: false,
    });
    await store.close();
  });

  it("reports a chunk write that fails with the completion, which it then does not attempt", async () => {
    const store = await createStore("memory:");
    const failure = new Error("the store went away while appending");
    const { key, execution, events } = await start(failing(store, "appendChunk", failure));
    expect(execution.respond(201, [], undefined)).toBe("stream");
    // More than one chunk (1 MiB): the first is appended while the rest is held back.
    execution.write(Buffer.alloc(1024 * 1024 + 10, 1));
    await execution.finish();
    expect(events.errors).toEqual([
      { ...event, key, operation: "complete", error: failure, failedOpen: false },
    ]);
    expect(events.executed).toEqual([expect.objectContaining({ stored: false })]);
    expect(await store.get({ scope: event.scope, key })).toMatchObject({ state: "in_flight" });
    await store.close();
  });

  it("reports a release that fails, and still reports the release", async () => {
    const store = await createStore("memory:");
    const failure = new Error("the store went away while releasing");
    const { key, execution, events } = await start(failing(store, "release", failure));
    expect(await execution.respond(503, [], 0)).toBe("pass");
    expect(events.errors).toEqual([
      { ...event, key, operation: "release", error: failure, failedOpen: false },
    ]);
    expect(events.released).toEqual([{ ...event, key, reason: "status", status: 503 }]);
    await store.close();
  });

  it("answers `pass` to a response it does not keep, and to a second declaration", async () => {
    const store = await createStore("memory:");
    const declined = await start(store);
    expect(await declined.execution.respond(201, [["X-Idempotency-Store", " No "]], 0)).toBe("pass");
    expect(declined.events.released).toEqual([expect.objectContaining({ reason: "declined", status: 201 })]);
    const twice = await start(store);
    expect(twice.execution.respond(201, [], 0)).toBe("store-first");
    expect(twice.execution.respond(500, [], 0)).toBe("pass");
    await twice.execution.finish();
    expect(await store.get({ scope: event.scope, key: twice.key })).toMatchObject({
      response: { status: 201 },
    });
    await store.close();
  });

  it("stores a response of known length up to storeBeforeSendBytes before sending it, and streams the others", async () => {
    const store = await createStore("memory:");
    const plans: unknown[] = [];
    for (const length of [0, 1024 * 1024, 1024 * 1024 + 1, undefined]) {
      const { execution } = await start(store);
      plans.push(execution.respond(200, [], length));
      await execution.fail();
    }
    expect(plans).toEqual(["store-first", "store-first", "stream", "stream"]);
    await store.close();
  });

  it("keeps only the bytes written between the answer and the end", async () => {
    const store = await createStore("memory:");
    const { key, execution } = await start(store);
    execution.write(Buffer.from("before "));
    expect(execution.respond(201, [], undefined)).toBe("stream");
    execution.write(Buffer.from("body"));
    await execution.finish();
    execution.write(Buffer.from(" after"));
    const record = await store.get({ scope: event.scope, key });
    expect(record).toMatchObject({ state: "completed", response: { bodyLength: 4, chunkCount: 1 } });
    if (record?.state === "completed") expect(Buffer.from(record.firstChunk).toString()).toBe("body");
    await store.close();
  });

  it("keeps a body of exactly maxBodyBytes", async () => {
    const store = await createStore("memory:");
    const { key, execution } = await start(store, { maxBodyBytes: 4 });
    execution.respond(201, [], undefined);
    execution.write(Buffer.from("bo"));
    execution.write(Buffer.from("dy"));
    await execution.finish();
    expect(await store.get({ scope: event.scope, key })).toMatchObject({
      response: { bodyOmitted: false, bodyLength: 4 },
    });
    await store.close();
  });

  it("asks the writer to wait once two chunks are on their way to the store, and tells it when they arrived", async () => {
    const store = await createStore("memory:");
    const { key, execution } = await start(slowAt(store, "appendChunk", 100));
    const drained: string[] = [];
    execution.onDrain(() => drained.push("at once"));
    expect(execution.respond(201, [], undefined)).toBe("stream");
    const mib = 1024 * 1024;
    // The first chunk leaves (1 MiB behind); the byte after it is held back for the completion.
    expect(execution.write(Buffer.alloc(mib + 1, 1))).toBe(true);
    execution.onDrain(() => drained.push("behind, but not too far"));
    // The second leaves too: 2 MiB behind.
    expect(execution.write(Buffer.alloc(mib, 2))).toBe(false);
    execution.onDrain(() => drained.push("drained"));
    expect(drained).toEqual(["at once", "behind, but not too far"]);
    await until(() => drained.length === 3);
    expect(drained).toEqual(["at once", "behind, but not too far", "drained"]);
    await execution.finish();
    expect(await store.get({ scope: event.scope, key })).toMatchObject({
      response: { bodyLength: 2 * mib + 1, chunkCount: 3 },
    });
    await store.close();
  });

  it("sends no more chunks once one failed or was refused, and tells the writer only once fewer than two are behind", async () => {
    const memory = await createStore("memory:");
    const mib = 1024 * 1024;
    for (const outcome of ["refused", "failed", "stored"] as const) {
      const appended: number[] = [];
      const store = withMethod(
        memory,
        "appendChunk",
        (real) =>
          async (...args: Parameters<IdempotencyStore["appendChunk"]>) => {
            await new Promise((resolve) => setTimeout(resolve, 50));
            appended.push(args[1]);
            if (outcome === "failed") throw new Error("the store went away while appending");
            return outcome === "stored" && real(...args);
          },
      );
      const { execution } = await start(store);
      execution.respond(201, [], undefined);
      // Three chunks leave at once: 3 MiB behind.
      expect(execution.write(Buffer.alloc(3 * mib + 1))).toBe(false);
      let appendedAtDrain = -1;
      execution.onDrain(() => {
        appendedAtDrain = appended.length;
      });
      await execution.finish();
      expect(appended, outcome).toEqual(outcome === "stored" ? [0, 1, 2] : [0]);
      // 3 MiB behind until the first write ends, 2 MiB until the second: fewer than two only then.
      expect(appendedAtDrain, outcome).toBe(outcome === "stored" ? 2 : 1);
    }
    await memory.close();
  });

  it("ends once: finishing before the answer, or failing after the end, changes nothing", async () => {
    const store = await createStore("memory:");
    const early = await start(store);
    await early.execution.finish();
    expect(early.events.executed).toEqual([]);
    expect(await store.get({ scope: event.scope, key: early.key })).toMatchObject({ state: "in_flight" });
    await early.execution.fail();

    const late = await start(store);
    late.execution.respond(201, [], 2);
    late.execution.write(Buffer.from("ok"));
    await late.execution.finish();
    await late.execution.finish();
    await late.execution.fail();
    await late.execution.clientLeft();
    expect(late.events.released).toEqual([]);
    expect(late.events.executed).toEqual([expect.objectContaining({ status: 201, stored: true })]);
    expect(await store.get({ scope: event.scope, key: late.key })).toMatchObject({ state: "completed" });
    await store.close();
  });

  it("stores an empty body as no chunk at all", async () => {
    const store = await createStore("memory:");
    const { key, execution } = await start(store);
    expect(execution.respond(204, [], 0)).toBe("store-first");
    await execution.finish();
    expect(await store.get({ scope: event.scope, key })).toMatchObject({
      response: { status: 204, bodyLength: 0, chunkCount: 0 },
    });
    await store.close();
  });

  it("reports a completion that fails as not stored", async () => {
    const store = await createStore("memory:");
    const failure = new Error("the store went away while completing");
    const { key, execution, events } = await start(failing(store, "complete", failure));
    execution.respond(201, [], 2);
    execution.write(Buffer.from("ok"));
    await execution.finish();
    expect(events.errors).toEqual([
      { ...event, key, operation: "complete", error: failure, failedOpen: false },
    ]);
    expect(events.executed).toEqual([expect.objectContaining({ status: 201, stored: false })]);
    await store.close();
  });

  it("gives the key back when the handler fails, with status 500 unless it declared one, and only once", async () => {
    const store = await createStore("memory:");
    const silent = await start(store);
    await silent.execution.fail();
    const declared = await start(store);
    declared.execution.respond(201, [], undefined);
    await declared.execution.fail();
    await declared.execution.fail();
    const refused = await start(store);
    await refused.execution.respond(503, [], 0);
    await refused.execution.fail();
    for (const [run, status, reason] of [
      [silent, 500, "error"],
      [declared, 201, "error"],
      [refused, 503, "status"],
    ] as const) {
      expect(run.events.released).toEqual([{ ...event, key: run.key, reason, status }]);
      expect(run.events.executed).toEqual([expect.objectContaining({ status, stored: false })]);
      expect(await store.get({ scope: event.scope, key: run.key })).toBeUndefined();
    }
    await store.close();
  });

  it("gives the key back when the client left before the handler started, and not once it answered", async () => {
    const store = await createStore("memory:");
    const left = await start(store);
    await left.execution.clientLeft();
    expect(left.events.released).toEqual([{ ...event, key: left.key, reason: "client-left" }]);
    expect(await store.get({ scope: event.scope, key: left.key })).toBeUndefined();
    const answered = await start(store);
    answered.execution.respond(201, [], 2);
    await answered.execution.clientLeft();
    expect(answered.events.released).toEqual([]);
    expect(await store.get({ scope: event.scope, key: answered.key })).toMatchObject({ state: "in_flight" });
    await answered.execution.fail();
    await store.close();
  });

  it("takes every write without backpressure when it keeps no body: before the answer, past maxBodyBytes, empty", async () => {
    const store = await createStore("memory:");
    const { key, execution } = await start(store, { maxBodyBytes: 4 });
    expect(execution.write(Buffer.from("early"))).toBe(true);
    expect(execution.respond(200, [], undefined)).toBe("stream");
    expect(execution.write(Buffer.from(""))).toBe(true);
    expect(execution.write(Buffer.from("too large"))).toBe(true);
    expect(execution.write(Buffer.alloc(3 * 1024 * 1024))).toBe(true);
    await execution.finish();
    const record = await store.get({ scope: event.scope, key });
    expect(record).toMatchObject({
      state: "completed",
      response: { bodyOmitted: true, bodyLength: 0, chunkCount: 0 },
    });
    await store.close();
  });
});
