// The dashboard's activity counter keeps a fixed window, however many events it counts.
import { describe, expect, it } from "vitest";
import { Activity, EVENT_KINDS } from "../../src/dashboard/activity.js";

describe("Activity", () => {
  it("keeps 120 one-second buckets per kind and the last 50 events, whatever it counted", () => {
    let now = 1_000_000_000;
    const activity = new Activity(() => now);
    for (let i = 0; i < 10_000; i++) {
      activity.record("executed", { key: `k${i}`, method: "POST", path: "/orders" }, 201);
      now += 37;
    }
    const snapshot = activity.snapshot();
    expect(snapshot.totals.executed).toBe(10_000);
    expect(snapshot.recent).toHaveLength(50);
    // The newest ones.
    const keys = snapshot.recent.map((event) => event.key);
    expect(keys).toContain("k9999");
    expect(keys).toContain("k9950");
    expect(keys).not.toContain("k9949");
    for (const kind of EVENT_KINDS) expect(snapshot.series[kind]).toHaveLength(120);
  });
});
