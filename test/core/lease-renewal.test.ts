// Lease renewals share one interval timer per lease length; the timer is cleared when the last
// renewal using it stops, and a renewal whose requester left stops by itself a lease later.
// The timers are watched through spies on the global setInterval and clearInterval.
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { LeaseRenewal, startDeadlineMs } from "../../src/core/lease-renewal.js";
import type { Lease } from "../../src/store.js";
import { createMemoryStore, type MemoryStore } from "../../src/stores/memory/index.js";
import { failing } from "../helpers/stores.js";

const quiet = { onLost: () => {}, onError: () => {} };
let set: MockInstance<typeof setInterval>;
let cleared: MockInstance<typeof clearInterval>;

beforeEach(() => {
  set = vi.spyOn(globalThis, "setInterval");
  cleared = vi.spyOn(globalThis, "clearInterval");
});
afterEach(() => vi.restoreAllMocks());

/** The interval timers set and not yet cleared. */
function live(): unknown[] {
  const clearedTimers = new Set(cleared.mock.calls.map(([timer]) => timer));
  return set.mock.results.map((result) => result.value).filter((timer) => !clearedTimers.has(timer));
}

async function leases(store: MemoryStore, count: number, leaseMs: number): Promise<Lease[]> {
  const claimed: Lease[] = [];
  for (let i = 0; i < count; i++) {
    const claim = await store.claim({ scope: "s", key: `k${i}`, fingerprint: "f", token: `t${i}`, leaseMs });
    if (claim.outcome !== "acquired") throw new Error("a fresh key was not acquired");
    claimed.push(claim.lease);
  }
  return claimed;
}

describe("LeaseRenewal", () => {
  it("keeps one timer for any number of renewals of one lease length, and none once they all stop", async () => {
    const store = createMemoryStore({ purgeIntervalMs: 0 });
    const renewals = (await leases(store, 100, 3000)).map(
      (lease) => new LeaseRenewal(store, lease, 3000, quiet),
    );
    expect(live()).toHaveLength(1);
    for (const renewal of renewals.slice(1)) renewal.stop();
    expect(live()).toHaveLength(1);
    renewals[0]?.stop();
    expect(live()).toHaveLength(0);
    expect(set).toHaveBeenCalledTimes(1);
    // Every third of the lease, and never more often than every 10 ms.
    expect(set.mock.calls[0]?.[1]).toBe(1000);
    const other = createMemoryStore({ purgeIntervalMs: 0 });
    const [short] = await leases(other, 1, 15);
    new LeaseRenewal(other, short as Lease, 15, quiet).stop();
    expect(set.mock.calls[1]?.[1]).toBe(10);
  });

  it("can be stopped twice, leaving the other renewals of its length running", async () => {
    const store = createMemoryStore({ purgeIntervalMs: 0 });
    const [first, second] = (await leases(store, 2, 3000)).map(
      (lease) => new LeaseRenewal(store, lease, 3000, quiet),
    );
    first?.stop();
    first?.stop();
    expect(live()).toHaveLength(1);
    second?.stop();
    expect(live()).toHaveLength(0);
  });

  it("stops by itself, clearing its timer, one lease after its requester left, though never stopped", async () => {
    const store = createMemoryStore({ purgeIntervalMs: 0 });
    const [lease] = await leases(store, 1, 90);
    const renewal = new LeaseRenewal(store, lease as Lease, 90, quiet);
    renewal.watch({ abandoned: true });
    expect(live()).toHaveLength(1);
    // Renewed every 30 ms, until one lease (90 ms) after the first renewal saw the requester gone.
    const started = Date.now();
    while (live().length > 0 && Date.now() - started < 2000) await sleep(10);
    expect(live()).toHaveLength(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(renewal.lost).toBe(false);
  });
});

describe("a renewal the store refuses or fails", () => {
  it("is lost, once, when the lease went to someone else, and stops", async () => {
    const store = createMemoryStore({ purgeIntervalMs: 0 });
    const [lease] = await leases(store, 1, 60);
    let lost = 0;
    const renewal = new LeaseRenewal(store, lease as Lease, 60, {
      onLost: () => void lost++,
      onError: () => {},
    });
    await store.release(lease as Lease);
    const started = Date.now();
    while (live().length > 0 && Date.now() - started < 2000) await sleep(10);
    expect(renewal.lost).toBe(true);
    expect(lost).toBe(1);
    expect(live()).toHaveLength(0);
  });

  it("reports each failed renewal and keeps trying", async () => {
    const store = createMemoryStore({ purgeIntervalMs: 0 });
    const [lease] = await leases(store, 1, 30);
    const failure = new Error("the store went away");
    const errors: unknown[] = [];
    const renewal = new LeaseRenewal(failing(store, "renew", failure), lease as Lease, 30, {
      onLost: () => {},
      onError: (error) => void errors.push(error),
    });
    const started = Date.now();
    while (errors.length < 2 && Date.now() - started < 2000) await sleep(5);
    renewal.stop();
    expect(errors.slice(0, 2)).toEqual([failure, failure]);
    expect(renewal.lost).toBe(false);
  });
});

describe("startDeadlineMs", () => {
  it("leaves a third of the lease (rounded down) for the first renewal to land in", () => {
    expect([3, 10, 600, 60_000].map(startDeadlineMs)).toEqual([2, 7, 400, 40_000]);
  });
});
