// The record state machine of the Store contract (src/store.ts) against a model small enough to
// read at a glance: random sequences of claims, renewals, releases, chunk writes, completions,
// reads and purges on two keys, run through the contract on a real store, each answer compared
// with what the model says it must be.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IdempotencyStore, Lease, StoredResponse } from "../../src/store.js";
import { storeCases } from "../helpers/stores.js";

/**
 * Every lease or lifetime is either long (never runs out during a run) or short: 1 ms, after
 * which the operation waits a few ms, so that it has surely run out before the next one.
 */
const LONG_MS = 60_000;
const SHORT_MS = 1;
const LAPSE_MS = 5;

type ModelRecord =
  | { state: "in_flight"; token: string; fingerprint: string; lapsed: boolean; chunks: Map<number, string> }
  | {
      state: "completed";
      fingerprint: string;
      expired: boolean;
      status: number;
      chunks: string[];
    };

type Op =
  | { op: "claim"; key: number; fingerprint: number; short: boolean }
  | { op: "renew"; lease: number; short: boolean }
  | { op: "release"; lease: number }
  | { op: "append"; lease: number; index: number; data: string }
  | { op: "complete"; lease: number; status: number; finalChunk: string; bodyless: boolean; short: boolean }
  | { op: "get"; key: number }
  | { op: "readChunk"; key: number; index: number }
  | { op: "purge" };

const KEYS = ["a", "b"];
const lease = fc.nat(7);
const data = fc.string({ maxLength: 6 });
const operation: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("claim"),
      key: fc.nat(1),
      fingerprint: fc.nat(1),
      short: fc.boolean(),
    }),
  },
  fc.record({ op: fc.constant("renew"), lease, short: fc.boolean() }),
  fc.record({ op: fc.constant("release"), lease }),
  { weight: 2, arbitrary: fc.record({ op: fc.constant("append"), lease, index: fc.nat(2), data }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("complete"),
      lease,
      status: fc.constantFrom(200, 201, 404),
      finalChunk: data,
      bodyless: fc.boolean(),
      short: fc.boolean(),
    }),
  },
  fc.record({ op: fc.constant("get"), key: fc.nat(1) }),
  fc.record({ op: fc.constant("readChunk"), key: fc.nat(1), index: fc.nat(2) }),
  fc.record({ op: fc.constant("purge") }),
) as fc.Arbitrary<Op>;

const text = (bytes: Uint8Array | undefined) =>
  bytes === undefined ? undefined : Buffer.from(bytes).toString();
const bytes = (value: string) => Buffer.from(value);

/** Whether the model's record is live: what claim, get and readChunk see. */
function live(record: ModelRecord | undefined): record is ModelRecord {
  return record !== undefined && (record.state === "in_flight" ? !record.lapsed : !record.expired);
}

/** Runs `ops` against `store` and the model side by side, in a scope of its own. */
async function run(store: IdempotencyStore, ops: readonly Op[]): Promise<void> {
  const scope = `model-${randomUUID()}`;
  const model = new Map<string, ModelRecord>();
  const leases: Lease[] = [];
  const owned = (l: Lease) => {
    const record = model.get(l.key);
    return record?.state === "in_flight" && record.token === l.token ? record : undefined;
  };
  const leaseAt = (index: number) => leases[index % Math.max(1, leases.length)];

  for (const [step, op] of ops.entries()) {
    const where = `step ${step}: ${JSON.stringify(op)}`;
    switch (op.op) {
      case "claim": {
        const key = KEYS[op.key] as string;
        const fingerprint = `fp${op.fingerprint}`;
        const token = randomUUID();
        const before = model.get(key);
        const result = await store.claim({
          scope,
          key,
          fingerprint,
          token,
          leaseMs: op.short ? SHORT_MS : LONG_MS,
        });
        if (!live(before)) {
          expect(result.outcome, where).toBe("acquired");
          if (result.outcome !== "acquired") return;
          expect(result.lease, where).toEqual({ scope, key, token });
          // A dead record may already be gone (purged, or cleaned up by the store on its own).
          if (before === undefined) expect(result.tookOver, where).toBe(false);
          leases.push(result.lease);
          model.set(key, { state: "in_flight", token, fingerprint, lapsed: op.short, chunks: new Map() });
        } else if (before.state === "in_flight") {
          expect(result.outcome, where).toBe("in_flight");
          if (result.outcome !== "in_flight") return;
          expect([result.record.token, result.record.fingerprint], where).toEqual([
            before.token,
            before.fingerprint,
          ]);
        } else {
          expect(result.outcome, where).toBe("completed");
          if (result.outcome !== "completed") return;
          expect(result.record.response.status, where).toBe(before.status);
          expect(result.record.fingerprint, where).toBe(before.fingerprint);
          expect(text(result.record.firstChunk), where).toBe(before.chunks[0] ?? "");
        }
        break;
      }
      case "renew": {
        const l = leaseAt(op.lease);
        if (!l) break;
        const record = owned(l);
        expect(await store.renew(l, op.short ? SHORT_MS : LONG_MS), where).toBe(record !== undefined);
        if (record) record.lapsed = op.short;
        break;
      }
      case "release": {
        const l = leaseAt(op.lease);
        if (!l) break;
        const record = owned(l);
        expect(await store.release(l), where).toBe(record !== undefined);
        if (record) model.delete(l.key);
        break;
      }
      case "append": {
        const l = leaseAt(op.lease);
        if (!l) break;
        const record = owned(l);
        expect(await store.appendChunk(l, op.index, bytes(op.data)), where).toBe(record !== undefined);
        record?.chunks.set(op.index, op.data);
        break;
      }
      case "complete": {
        const l = leaseAt(op.lease);
        if (!l) break;
        const record = owned(l);
        // The body is the chunks written so far from 0 on, plus the final one: a store is only
        // ever completed that way (a gap would be a corrupt record, not a state).
        const written: string[] = [];
        while (record?.chunks.has(written.length)) written.push(record.chunks.get(written.length) as string);
        const chunks = op.bodyless ? [] : [...written, op.finalChunk];
        const response: StoredResponse = {
          status: op.status,
          headers: [["content-type", "text/plain"]],
          bodyLength: chunks.join("").length,
          chunkCount: chunks.length,
          bodyOmitted: false,
        };
        const done = await store.complete(l, {
          response,
          finalChunk: bytes(op.finalChunk),
          ttlMs: op.short ? SHORT_MS : LONG_MS,
        });
        expect(done, where).toBe(record !== undefined);
        if (record) {
          model.set(l.key, {
            state: "completed",
            fingerprint: record.fingerprint,
            expired: op.short,
            status: op.status,
            chunks,
          });
        }
        break;
      }
      case "get": {
        const key = KEYS[op.key] as string;
        const record = model.get(key);
        const got = await store.get({ scope, key });
        if (!live(record)) expect(got, where).toBeUndefined();
        else if (record.state === "in_flight")
          expect(got, where).toMatchObject({ state: "in_flight", token: record.token });
        else {
          expect(got, where).toMatchObject({ state: "completed", response: { status: record.status } });
          expect(got?.state === "completed" && got.response.chunkCount, where).toBe(record.chunks.length);
        }
        break;
      }
      case "readChunk": {
        const key = KEYS[op.key] as string;
        const record = model.get(key);
        const expected = live(record) && record.state === "completed" ? record.chunks[op.index] : undefined;
        expect(text(await store.readChunk({ scope, key }, op.index)), where).toBe(expected);
        break;
      }
      case "purge": {
        await store.purgeExpired();
        for (const [key, record] of model) if (!live(record)) model.delete(key);
        break;
      }
    }
    if ("short" in op && op.short) await sleep(LAPSE_MS);
  }
  // Leave nothing behind that a later run's purge would count.
  for (const l of leases) if (owned(l)) await store.release(l);
}

const cases = storeCases().filter(({ name }) => name === "memory" || name === "sqlite");
describe.each(cases)("the record state machine on the $name store", ({ create }) => {
  let store: IdempotencyStore;
  beforeAll(async () => {
    store = await create();
  });
  afterAll(() => store.close());

  it("answers every operation as the model does", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 30 }), (ops) => run(store, ops)),
      { numRuns: 150 },
    );
  }, 60_000);
});
