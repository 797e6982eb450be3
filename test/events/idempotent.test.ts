import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ArgumentsMismatchError,
  CallInProgressError,
  InvalidEventIdError,
  makeIdempotent,
  NotSerializableError,
} from "../../src/events/index.js";
import { InvalidOptionError, isOncelyError } from "../../src/index.js";
import type { IdempotencyStore } from "../../src/store.js";
import { storeCases } from "../helpers/stores.js";
import { freshScope, gate, sleep } from "./support.js";

interface Order {
  id: string;
  amount: number;
  meta?: { note: string; priority: number };
}

describe.each(storeCases())("makeIdempotent over the $name store", ({ create }) => {
  let store: IdempotencyStore;
  beforeAll(async () => {
    store = await create();
  });
  afterAll(async () => {
    await store.close();
  });

  /** A charge function that counts its runs, wrapped with `options`. */
  const charger = (options: { fingerprint?: boolean | ((order: Order) => string) } = {}) => {
    const calls: Order[] = [];
    const charge = makeIdempotent(
      async (order: Order) => {
        calls.push(order);
        return { chargeId: `ch_${calls.length}`, amount: order.amount };
      },
      { store, scope: freshScope(), key: (order) => `charge:${order.id}`, ...options },
    );
    return { charge, calls };
  };

  it("runs once per key and gives repeated calls the stored result", async () => {
    const { charge, calls } = charger();
    const order = { id: "o1", amount: 500, meta: { note: "gift", priority: 1 } };
    expect(await charge(order)).toEqual({ chargeId: "ch_1", amount: 500 });
    // Equal arguments in another key order are the same call.
    expect(await charge({ meta: { priority: 1, note: "gift" }, amount: 500, id: "o1" })).toEqual({
      chargeId: "ch_1",
      amount: 500,
    });
    expect(await charge({ id: "o2", amount: 500 })).toEqual({ chargeId: "ch_2", amount: 500 });
    expect(calls).toHaveLength(2);
  });

  it("throws ArgumentsMismatchError when a key is reused with different arguments", async () => {
    const { charge, calls } = charger();
    await charge({ id: "o1", amount: 500 });
    const error = await charge({ id: "o1", amount: 900 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ArgumentsMismatchError);
    expect(isOncelyError(error) && error.code).toBe("ONCELY_ARGUMENTS_MISMATCH");
    expect((error as ArgumentsMismatchError).key).toBe("charge:o1");
    expect(calls).toHaveLength(1);
  });

  it("compares nothing with fingerprint: false, and only what a fingerprint function returns", async () => {
    const unchecked = charger({ fingerprint: false });
    await unchecked.charge({ id: "o1", amount: 500 });
    expect(await unchecked.charge({ id: "o1", amount: 900 })).toEqual({ chargeId: "ch_1", amount: 500 });

    const byAmount = charger({ fingerprint: (order) => String(order.amount) });
    await byAmount.charge({ id: "o1", amount: 500, meta: { note: "a", priority: 1 } });
    expect(await byAmount.charge({ id: "o1", amount: 500, meta: { note: "b", priority: 2 } })).toEqual({
      chargeId: "ch_1",
      amount: 500,
    });
    await expect(byAmount.charge({ id: "o1", amount: 900 })).rejects.toBeInstanceOf(ArgumentsMismatchError);
  });

  it("treats trailing undefined arguments as absent", async () => {
    let runs = 0;
    const greet = makeIdempotent(async (name: string, title?: string) => `${title ?? ""}${name}#${++runs}`, {
      store,
      scope: freshScope(),
      key: (name) => name,
    });
    expect(await greet("ada")).toBe("ada#1");
    expect(await greet("ada", undefined)).toBe("ada#1");
    await expect(greet("ada", "Dr ")).rejects.toBeInstanceOf(ArgumentsMismatchError);
  });

  it("releases the key when the function throws, so a retry runs it again", async () => {
    let runs = 0;
    const flaky = makeIdempotent(
      async (id: string) => {
        runs++;
        if (runs === 1) throw new Error("timeout talking to the bank");
        return `paid ${id}`;
      },
      { store, scope: freshScope(), key: (id) => id },
    );
    await expect(flaky("o1")).rejects.toThrow("timeout talking to the bank");
    expect(await flaky("o1")).toBe("paid o1");
    expect(await flaky("o1")).toBe("paid o1");
    expect(runs).toBe(2);
  });

  it("fails clearly on a result JSON cannot carry, and releases the key", async () => {
    let runs = 0;
    const fetchUser = makeIdempotent(
      async (id: string) => {
        runs++;
        return runs === 1 ? { id, createdAt: new Date(0) } : { id, createdAt: new Date(0).toISOString() };
      },
      { store, scope: freshScope(), key: (id) => id },
    );
    const error = await fetchUser("u1").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NotSerializableError);
    expect((error as Error).message).toMatch(/^result\.createdAt is a Date, not a plain object.*toISOString/);
    expect(await fetchUser("u1")).toEqual({ id: "u1", createdAt: "1970-01-01T00:00:00.000Z" });
    expect(await fetchUser("u1")).toEqual({ id: "u1", createdAt: "1970-01-01T00:00:00.000Z" });
    expect(runs).toBe(2);
  });

  it("fails clearly, before running, on arguments the default fingerprint cannot compare", async () => {
    let runs = 0;
    const send = makeIdempotent(
      async (to: string, _at: Date) => {
        runs++;
        return to;
      },
      { store, scope: freshScope(), key: (to) => to },
    );
    await expect(send("ada", new Date())).rejects.toThrow(
      /^arguments\[1\] is a Date.*fingerprint: \(\.\.\.args\) => string/,
    );
    expect(runs).toBe(0);
  });

  it("makes concurrent calls wait for the first, or throws CallInProgressError when they may not", async () => {
    let runs = 0;
    const release = gate();
    const slow = (concurrent: "wait" | "reject", scope: string) =>
      makeIdempotent(
        async (id: string) => {
          runs++;
          await release.promise;
          return `done ${id}`;
        },
        { store, scope, key: (id) => id, concurrent, waitTimeout: 10_000 },
      );
    const scope = freshScope();
    const waiting = slow("wait", scope);
    const calls = [waiting("o1"), waiting("o1"), waiting("o1")];
    await sleep(50);
    const error = await slow("reject", scope)("o1").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CallInProgressError);
    expect((error as CallInProgressError).code).toBe("ONCELY_CALL_IN_PROGRESS");
    release.open();
    expect(await Promise.all(calls)).toEqual(["done o1", "done o1", "done o1"]);
    expect(runs).toBe(1);
  });

  it("passes `this` through, and keeps two named functions' keys apart by default", async () => {
    const run = freshScope(); // keys unique to this run: the default scopes are fixed names
    const ledger = {
      prefix: "entry",
      record: makeIdempotent(
        async function record(this: { prefix: string }, id: string) {
          return `${this.prefix}:${id}`;
        },
        { store, key: (id) => `${run}-${id}` },
      ),
    };
    const audit = makeIdempotent(
      async function audit(id: string) {
        return `audit:${id}`;
      },
      { store, key: (id) => `${run}-${id}` },
    );
    expect(await ledger.record("a")).toBe("entry:a");
    expect(await audit("a")).toBe("audit:a");
    expect(await ledger.record("a")).toBe("entry:a");
  });
});

describe("makeIdempotent options", () => {
  it("rejects a missing key function, a bad fingerprint, and an anonymous function without a scope", async () => {
    const { createStore } = await import("../../src/index.js");
    const store = await createStore("memory:");
    const named = async function named(x: number) {
      return x;
    };
    expect(() => makeIdempotent(named, { store } as never)).toThrow("options.key");
    expect(() => makeIdempotent(named, { store, key: String, fingerprint: "yes" as never })).toThrow(
      "options.fingerprint",
    );
    expect(() => makeIdempotent(async (x: number) => x, { store, key: String })).toThrow(InvalidOptionError);
    expect(() => makeIdempotent(async (x: number) => x, { store, key: String })).toThrow("options.scope");
    const wrapped = makeIdempotent(named, { store, key: () => "" });
    await expect(wrapped(1)).rejects.toBeInstanceOf(InvalidEventIdError);
    await store.close();
  });
});
