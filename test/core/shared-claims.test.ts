// Claims of one key sent together share one trip to the store when its answer is a record;
// claims of other keys, and answers that are a lease, are never shared.
import { describe, expect, it } from "vitest";
import { SharedClaims } from "../../src/core/shared-claims.js";
import { createStore } from "../../src/index.js";
import type { ClaimInput, IdempotencyStore } from "../../src/store.js";
import { withMethod } from "../helpers/stores.js";

/** `store`, counting the claims that reach it; the first `failures` of them reject. */
function counted(store: IdempotencyStore, failures = 0) {
  const sent: ClaimInput[] = [];
  const counting = withMethod(store, "claim", (real) => (input: ClaimInput) => {
    sent.push(input);
    if (sent.length <= failures) return Promise.reject(new Error("the store hiccupped"));
    return real(input);
  });
  return { store: counting, sent };
}

const input = (scope: string, key: string, token: string, fingerprint = "f"): ClaimInput => ({
  scope,
  key,
  fingerprint,
  token,
  leaseMs: 60_000,
});

describe("SharedClaims", () => {
  it("sends one claim for duplicates sent together when the answer is a record, and a new one afterwards", async () => {
    const memory = await createStore("memory:");
    await memory.claim(input("s", "held", "owner"));
    const { store, sent } = counted(memory);
    const claims = new SharedClaims();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => claims.claim(store, input("s", "held", `t${i}`))),
    );
    expect(results.map((result) => result.outcome)).toEqual(Array(10).fill("in_flight"));
    expect(sent).toHaveLength(1);
    await claims.claim(store, input("s", "held", "later"));
    expect(sent).toHaveLength(2);
    await memory.close();
  });

  it("never shares between keys, scopes or fingerprints, however their parts run together", async () => {
    const memory = await createStore("memory:");
    await memory.claim(input("ab", "c", "owner"));
    const { store, sent } = counted(memory);
    const claims = new SharedClaims();
    const [held, ...others] = await Promise.all([
      claims.claim(store, input("ab", "c", "t1")),
      claims.claim(store, input("a", "bc", "t2")),
      claims.claim(store, input("abc", "", "t3")),
      claims.claim(store, input("ab", "c", "t4", "other")),
    ]);
    expect(held?.outcome).toBe("in_flight");
    expect(others.map((result) => result.outcome)).toEqual(["acquired", "acquired", "in_flight"]);
    expect(sent).toHaveLength(4);
    await memory.close();
  });

  it("lets each duplicate claim for itself when the shared answer is a lease, or a failure", async () => {
    const memory = await createStore("memory:");
    const { store, sent } = counted(memory);
    const claims = new SharedClaims();
    const fresh = await Promise.all([
      claims.claim(store, input("s", "fresh", "t1")),
      claims.claim(store, input("s", "fresh", "t2")),
    ]);
    expect(fresh.map((result) => result.outcome)).toEqual(["acquired", "in_flight"]);
    expect(sent).toHaveLength(2);

    const failing = counted(memory, 1);
    const afterFailure = await Promise.allSettled([
      claims.claim(failing.store, input("s", "flaky", "t1")),
      claims.claim(failing.store, input("s", "flaky", "t2")),
    ]);
    expect(afterFailure.map((result) => result.status)).toEqual(["rejected", "fulfilled"]);
    expect(afterFailure[1]).toMatchObject({ value: { outcome: "acquired" } });
    expect(failing.sent).toHaveLength(2);
    await memory.close();
  });
});
