import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createDeduper,
  type DeduperOptions,
  InvalidEventIdError,
  LeaseLostError,
  NotSerializableError,
} from "../../src/events/index.js";
import { CorruptRecordError, InvalidOptionError } from "../../src/index.js";
import type { IdempotencyStore } from "../../src/store.js";
import { failing, storeCases } from "../helpers/stores.js";
import { freshScope, gate, sleep } from "./support.js";

describe.each(storeCases())("dedupe.once over the $name store", ({ create }) => {
  let store: IdempotencyStore;
  beforeAll(async () => {
    store = await create();
  });
  afterAll(async () => {
    await store.close();
  });
  const deduper = (options: Omit<DeduperOptions, "store"> = {}) =>
    createDeduper({ store, scope: freshScope(), ...options });

  it("runs the first delivery and gives later ones the recorded value without running", async () => {
    const dedupe = deduper();
    let runs = 0;
    const handler = async () => ({
      order: 7,
      run: ++runs,
      tags: ["a", "b"],
      nested: { ok: true, none: null },
    });
    expect(await dedupe.once("evt_1", handler)).toEqual({
      outcome: "executed",
      value: { order: 7, run: 1, tags: ["a", "b"], nested: { ok: true, none: null } },
      recorded: true,
    });
    for (let i = 0; i < 3; i++) {
      const again = await dedupe.once("evt_1", handler);
      expect(again.outcome).toBe("duplicate");
      if (again.outcome !== "duplicate") return;
      expect(again.value).toEqual({ order: 7, run: 1, tags: ["a", "b"], nested: { ok: true, none: null } });
      expect(again.executedAt.getTime()).toBeGreaterThan(Date.now() - 10_000);
    }
    expect(runs).toBe(1);
  });

  it("records a handler that returns nothing, and keeps ids of two scopes apart", async () => {
    const dedupe = deduper();
    expect(await dedupe.once("evt", () => undefined)).toEqual({
      outcome: "executed",
      value: undefined,
      recorded: true,
    });
    expect(await dedupe.once("evt", () => "never")).toMatchObject({ outcome: "duplicate", value: undefined });
    expect(await deduper().once("evt", () => "other scope")).toMatchObject({ outcome: "executed" });
  });

  it("makes a concurrent duplicate wait for the running handler and return its value", async () => {
    const dedupe = deduper({ concurrent: "wait", waitTimeout: 10_000 });
    let runs = 0;
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        dedupe.once("evt_concurrent", async () => {
          runs++;
          await sleep(150);
          return { by: "first" };
        }),
      ),
    );
    expect(runs).toBe(1);
    expect(results.filter((result) => result.outcome === "executed")).toHaveLength(1);
    for (const result of results) expect(result).toMatchObject({ value: { by: "first" } });
  });

  it('tells a concurrent duplicate "in progress" with concurrent: "reject", and when the wait runs out', async () => {
    for (const options of [
      { concurrent: "reject" as const },
      { concurrent: "wait" as const, waitTimeout: 100 },
    ]) {
      const dedupe = deduper(options);
      const release = gate();
      const running = dedupe.once("evt_slow", async () => {
        await release.promise;
        return 1;
      });
      await sleep(20);
      const startedAt = Date.now();
      const duplicate = await dedupe.once("evt_slow", () => 2);
      expect(duplicate.outcome).toBe("in_progress");
      if (duplicate.outcome === "in_progress")
        expect(duplicate.leaseExpiresAt.getTime()).toBeGreaterThan(Date.now());
      expect(Date.now() - startedAt).toBeLessThan(options.concurrent === "reject" ? 100 : 1_000);
      release.open();
      expect(await running).toMatchObject({ outcome: "executed", value: 1 });
      expect(await dedupe.once("evt_slow", () => 3)).toMatchObject({ outcome: "duplicate", value: 1 });
    }
  });

  it("releases the id when the handler throws, so a redelivery runs it again", async () => {
    const dedupe = deduper();
    const failure = new Error("downstream is down");
    await expect(dedupe.once("evt_fail", () => Promise.reject(failure))).rejects.toBe(failure);
    await expect(
      dedupe.once("evt_fail", () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await dedupe.once("evt_fail", () => "recovered")).toMatchObject({
      outcome: "executed",
      value: "recovered",
    });
    expect(await dedupe.once("evt_fail", () => "again")).toMatchObject({
      outcome: "duplicate",
      value: "recovered",
    });
  });

  it("lets a waiting duplicate run the handler itself when the first one fails", async () => {
    const dedupe = deduper({ concurrent: "wait", waitTimeout: 5_000 });
    const firstAttempt = dedupe.once("evt_handover", async () => {
      await sleep(100);
      throw new Error("first attempt fails");
    });
    await sleep(20);
    const waiting = dedupe.once("evt_handover", () => "second attempt");
    await expect(firstAttempt).rejects.toThrow("first attempt fails");
    expect(await waiting).toMatchObject({ outcome: "executed", value: "second attempt" });
  });

  it("refuses a result that JSON would alter, naming where it is, and releases the id", async () => {
    const dedupe = deduper();
    const cases: Array<[unknown, string]> = [
      [{ at: new Date() }, "result.at"],
      [{ items: [1, undefined] }, "result.items[1]"],
      [new Map(), "result"],
      [{ n: Number.NaN }, "result.n"],
      [{ big: 1n }, "result.big"],
      [() => 1, "result"],
    ];
    for (const [value, path] of cases) {
      const error = await dedupe.once("evt_bad", () => value).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(NotSerializableError);
      expect((error as NotSerializableError).path).toBe(path);
      expect((error as NotSerializableError).code).toBe("ONCELY_NOT_SERIALIZABLE");
    }
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await expect(dedupe.once("evt_bad", () => circular)).rejects.toThrow(
      "result.self is a circular reference",
    );
    expect(await dedupe.once("evt_bad", () => ({ fine: "now" }))).toMatchObject({ outcome: "executed" });
  });

  it("forgets a completed event once its TTL has passed", async () => {
    const dedupe = deduper({ ttl: 300 });
    expect(await dedupe.once("evt_ttl", () => 1)).toMatchObject({ outcome: "executed" });
    expect(await dedupe.once("evt_ttl", () => 2)).toMatchObject({ outcome: "duplicate", value: 1 });
    await sleep(450);
    expect(await dedupe.once("evt_ttl", () => 3)).toMatchObject({ outcome: "executed", value: 3 });
  });

  it("renews the lease while a handler outlives it, so no duplicate takes the event over", async () => {
    const dedupe = deduper({ lease: 600, concurrent: "reject" });
    let runs = 0;
    const long = dedupe.once("evt_long", async ({ signal }) => {
      runs++;
      await sleep(1_500);
      return signal.aborted;
    });
    for (let i = 0; i < 3; i++) {
      await sleep(300);
      expect(await dedupe.once("evt_long", () => runs++)).toMatchObject({ outcome: "in_progress" });
    }
    expect(await long).toMatchObject({ outcome: "executed", value: false, recorded: true });
    expect(runs).toBe(1);
  });

  it("takes an event over once the lease of an owner that stopped renewing has lapsed", async () => {
    const scope = freshScope();
    // An owner that died: it claimed the event and never renewed.
    const dead = await store.claim({
      scope,
      key: "evt_orphan",
      fingerprint: "event",
      token: "dead",
      leaseMs: 300,
    });
    expect(dead.outcome).toBe("acquired");
    const dedupe = createDeduper({ store, scope, concurrent: "reject" });
    expect(await dedupe.once("evt_orphan", () => "too early")).toMatchObject({ outcome: "in_progress" });
    await sleep(400);
    expect(await dedupe.once("evt_orphan", () => "took over")).toMatchObject({
      outcome: "executed",
      value: "took over",
    });
    // The dead owner's token is fenced off: it can neither release nor complete the event now.
    if (dead.outcome === "acquired") expect(await store.release(dead.lease)).toBe(false);
    expect(await dedupe.once("evt_orphan", () => "late")).toMatchObject({
      outcome: "duplicate",
      value: "took over",
    });
  });

  it("aborts the handler's signal with LeaseLostError and records nothing when the event was taken over", async () => {
    const scope = freshScope();
    const dedupe = createDeduper({ store, scope, lease: 600 });
    let signal: AbortSignal | undefined;
    const stale = dedupe.once("evt_fenced", async (context) => {
      signal = context.signal;
      // The owner's lease is taken from it, as after a long freeze: released under its
      // feet and claimed by another execution, which completes first.
      const record = await store.get({ scope, key: "evt_fenced" });
      if (record?.state !== "in_flight") throw new Error("expected an in-flight record");
      await store.release({ scope, key: "evt_fenced", token: record.token });
      await createDeduper({ store, scope }).once("evt_fenced", () => "new owner");
      await sleep(300);
      return "stale owner";
    });
    expect(await stale).toEqual({ outcome: "executed", value: "stale owner", recorded: false });
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBeInstanceOf(LeaseLostError);
    expect(await dedupe.once("evt_fenced", () => "late")).toMatchObject({
      outcome: "duplicate",
      value: "new owner",
    });
  });

  it("rejects a record in its scope that holds no event result, rather than misreading it", async () => {
    const scope = freshScope();
    const claim = await store.claim({
      scope,
      key: "evt_http",
      fingerprint: "event",
      token: "t",
      leaseMs: 10_000,
    });
    if (claim.outcome !== "acquired") throw new Error("expected to acquire a fresh key");
    await store.complete(claim.lease, {
      response: { status: 201, headers: [], bodyLength: 2, chunkCount: 1, bodyOmitted: false },
      finalChunk: Buffer.from("{}"),
      ttlMs: 10_000,
    });
    await expect(createDeduper({ store, scope }).once("evt_http", () => 1)).rejects.toBeInstanceOf(
      CorruptRecordError,
    );
  });

  it("stores results larger than one store chunk", async () => {
    const dedupe = deduper();
    const big = { text: "x".repeat(2_500_000), list: Array.from({ length: 1000 }, (_, i) => i) };
    expect(await dedupe.once("evt_big", () => big)).toMatchObject({ outcome: "executed", recorded: true });
    const again = await dedupe.once("evt_big", () => null);
    expect(again.outcome === "duplicate" && again.value).toEqual(big);
  });

  it("returns the value unrecorded and reports the store error when completing fails, keeping the id in flight", async () => {
    const failure = new Error("store went away");
    const reports: unknown[] = [];
    const flaky = failing(store, "complete", failure);
    const scope = freshScope();
    const dedupe = createDeduper({ store: flaky, scope, onStoreError: (event) => void reports.push(event) });
    expect(await dedupe.once("evt_unrecorded", () => "done")).toEqual({
      outcome: "executed",
      value: "done",
      recorded: false,
    });
    expect(reports).toEqual([{ scope, key: "evt_unrecorded", operation: "complete", error: failure }]);
    const redelivery = createDeduper({ store, scope, concurrent: "reject" });
    expect(await redelivery.once("evt_unrecorded", () => "rerun")).toMatchObject({ outcome: "in_progress" });
  });
});

describe("createDeduper options and ids", () => {
  it("rejects invalid options with the option's name", async () => {
    const { createStore } = await import("../../src/index.js");
    const store = await createStore("memory:");
    const bad: Array<[Record<string, unknown>, string]> = [
      [{}, "options.store"],
      [{ store, ttl: 0 }, "options.ttl"],
      [{ store, lease: 1.5 }, "options.lease"],
      [{ store, concurrent: "queue" }, "options.concurrent"],
      [{ store, waitTimeout: -1 }, "options.waitTimeout"],
      [{ store, scope: "" }, "options.scope"],
      [{ store, onStoreError: "log" }, "options.onStoreError"],
    ];
    for (const [options, name] of bad) {
      expect(() => createDeduper(options as unknown as DeduperOptions)).toThrow(InvalidOptionError);
      expect(() => createDeduper(options as unknown as DeduperOptions)).toThrow(name);
    }
    const dedupe = createDeduper({ store });
    for (const id of ["", "x".repeat(513), 42]) {
      await expect(dedupe.once(id as string, () => 1)).rejects.toBeInstanceOf(InvalidEventIdError);
    }
    expect(dedupe.options).toMatchObject({
      scope: "events",
      ttl: 604_800_000,
      lease: 60_000,
      concurrent: "wait",
    });
    await store.close();
  });
});
