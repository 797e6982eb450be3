// How a waiting duplicate paces its looks at the original: polls that start short and
// double up to a ceiling, or a store's change wait with a slow, growing, jittered safety
// timeout; never past the deadline. Pauses run on fake timers and are checked to the
// millisecond: on a loaded machine a real timer may fire a few milliseconds early.
import { describe, expect, it, vi } from "vitest";
import { changeWaitOf, WaitPacer } from "../../src/core/wait-pacer.js";
import type { IdempotencyStore, InFlightRecord } from "../../src/store.js";

describe("WaitPacer", () => {
  it("polls after pauses of 20 ms doubling to 250 ms, and says true after each", async () => {
    // On fake timers, so that each pause is seen to the millisecond: a real timer may fire a
    // few milliseconds early on a loaded machine (Node's loop time is read once per turn).
    vi.useFakeTimers();
    try {
      const pacer = new WaitPacer(60_000);
      for (const expected of [20, 40, 80, 160, 250, 250]) {
        let settled: boolean | undefined;
        void pacer.pause().then((again) => {
          settled = again;
        });
        await vi.advanceTimersByTimeAsync(expected - 1);
        expect(settled, `still pausing 1 ms before ${expected} ms`).toBeUndefined();
        await vi.advanceTimersByTimeAsync(1);
        expect(settled, `looked again after ${expected} ms`).toBe(true);
      }
    } finally {
      vi.useRealTimers();
    }
  });

  it("looks until the deadline, and says false once it has passed", async () => {
    // Fake timers, as above: a real timer firing early would make room for one more look.
    vi.useFakeTimers();
    try {
      const started = Date.now();
      const pacer = new WaitPacer(100);
      let looks = 0;
      let done = false;
      void (async () => {
        while (await pacer.pause()) looks += 1;
        done = true;
      })();
      await vi.advanceTimersByTimeAsync(99);
      expect(done, "still waiting 1 ms before the deadline").toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(done, "gave up at the deadline").toBe(true);
      // 20 + 40 ms, then the 40 ms left rather than a pause of 80 ms.
      expect(looks).toBe(3);
      expect(Date.now() - started).toBe(100);
    } finally {
      vi.useRealTimers();
    }
    expect(await new WaitPacer(0).pause()).toBe(false);
    expect(await new WaitPacer(60_000, Date.now() - 60_000).pause()).toBe(false);
  });

  it("gives a change wait 1 s ±20 % at first, doubling to 8 s, and the time left at most", async () => {
    const timeouts: number[] = [];
    const pacer = new WaitPacer(100_000);
    for (let look = 0; look < 5; look++) {
      expect(await pacer.pause(async (timeoutMs) => void timeouts.push(timeoutMs))).toBe(true);
    }
    const bounds = [1000, 2000, 4000, 8000, 8000];
    timeouts.forEach((timeout, look) => {
      expect(timeout, `look ${look}`).toBeGreaterThanOrEqual(0.8 * (bounds[look] ?? 0));
      expect(timeout, `look ${look}`).toBeLessThanOrEqual(1.2 * (bounds[look] ?? 0));
    });
    const short: number[] = [];
    await new WaitPacer(300).pause(async (timeoutMs) => void short.push(timeoutMs));
    expect(short[0]).toBeLessThanOrEqual(300);
    expect(short[0]).toBeGreaterThan(250);
  });

  it("spreads the change wait's timeout from 80 % to 120 % with the random draw", async () => {
    const firstTimeout = async (draw: number) => {
      vi.spyOn(Math, "random").mockReturnValue(draw);
      const seen: number[] = [];
      await new WaitPacer(100_000).pause(async (timeoutMs) => void seen.push(timeoutMs));
      vi.restoreAllMocks();
      return seen[0];
    };
    expect(await firstTimeout(0)).toBeCloseTo(800);
    expect(await firstTimeout(0.5)).toBeCloseTo(1000);
    expect(await firstTimeout(0.99)).toBeCloseTo(1196);
  });

  it("polls instead when a change wait rejects, against its contract", async () => {
    vi.useFakeTimers();
    try {
      const pacer = new WaitPacer(60_000);
      let again: boolean | undefined;
      void pacer
        .pause(() => Promise.reject(new Error("a broken store")))
        .then((result) => {
          again = result;
        });
      await vi.advanceTimersByTimeAsync(19);
      expect(again, "still pausing 1 ms before the first poll").toBeUndefined();
      await vi.advanceTimersByTimeAsync(1);
      expect(again).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("changeWaitOf", () => {
  it("binds a store's waitForChange to the record, and is undefined for a store without one", async () => {
    const record = { state: "in_flight" } as InFlightRecord;
    const calls: unknown[] = [];
    const watching = {
      waitForChange(this: unknown, seen: InFlightRecord, timeoutMs: number) {
        calls.push([this, seen, timeoutMs]);
        return Promise.resolve();
      },
    } as unknown as IdempotencyStore;
    await changeWaitOf(watching, record)?.(123);
    expect(calls).toEqual([[watching, record, 123]]);
    expect(changeWaitOf({} as IdempotencyStore, record)).toBeUndefined();
  });
});
