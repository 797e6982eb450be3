// The short soak of `npm test`: the runner of `npm run soak` (bench/soak) for 15 seconds,
// through `oncely serve` and through the Express adapter, each in its own process, with its
// whole mix (new keys, replays, concurrent duplicates with and without `wait`, aborts while
// sending, while waiting and mid-response). Memory is only judged by the long run: a few
// seconds of a warming process say nothing about leaks.
import { describe, expect, it } from "vitest";
import { formatReport, runSoak, type SoakOptions, type SoakStore } from "../../bench/soak/run.js";
import { MIX } from "../../bench/soak/traffic.js";
import { serviceUrl } from "../helpers/services.js";

function options(store: SoakStore, redisUrl?: string): SoakOptions {
  return {
    durationMs: 15_000,
    rate: 10,
    combinations: [
      { front: "gateway", store },
      { front: "express", store },
    ],
    redisUrl,
    sampleMs: 5000,
    warmup: 0.2,
    tolerance: undefined,
  };
}

async function soak(settings: SoakOptions): Promise<void> {
  const results = await runSoak(settings);
  const report = formatReport(results, settings);
  for (const result of results) {
    // Every kind of operation ran, and every key sent executed exactly once.
    for (const operation of Object.keys(MIX))
      expect(
        result.tally.operations[operation as keyof typeof MIX],
        `${operation}\n${report}`,
      ).toBeGreaterThan(0);
    expect(result.keys.sent, report).toBeGreaterThan(50);
    expect(result.keys, report).toEqual({
      sent: result.keys.sent,
      once: result.keys.sent,
      never: 0,
      more: 0,
    });
    expect(result.strangers, report).toBe(0);
    expect(result.tally.descriptions, report).toEqual([]);
    expect(result.tally.unexpected, report).toBe(0);
    expect(result.crashed, report).toBeUndefined();
    // The gateway holds nothing per request once the traffic has ended.
    if (result.name.startsWith("gateway"))
      expect(result.leftovers, report).toEqual({ requests: 0, executions: 0 });
    expect(result.failures, report).toEqual([]);
  }
}

describe("soak, short, on SQLite", () => {
  it("runs every key exactly once with no unexpected answer through the gateway and Express", async () => {
    await soak(options("sqlite"));
  }, 120_000);
});

const redis = serviceUrl("ONCELY_TEST_REDIS_URL", "soak, short, on Redis");
if (redis) {
  describe("soak, short, on Redis", () => {
    it("runs every key exactly once with no unexpected answer through the gateway and Express", async () => {
      await soak(options("redis", redis));
    }, 120_000);
  });
}
