import { randomBytes, randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import { afterAll, describe, expect, it } from "vitest";
import {
  DecryptionFailedError,
  InvalidOptionError,
  UnknownEncryptionKeyError,
} from "../../src/core/errors.js";
import type { StoreErrorEvent } from "../../src/core/hooks.js";
import { createDeduper } from "../../src/events/index.js";
import type { IdempotencyStore, InspectableStore } from "../../src/store.js";
import type { EncryptionOptions } from "../../src/stores/encrypt-store.js";
import { encryptStore } from "../../src/stores/encrypt-store.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { storeConformanceSuite } from "../../src/testing/index.js";
import { type Backend, backends } from "../helpers/backends.js";
import { guardedServer } from "../helpers/guarded.js";
import { newKey, send } from "../helpers/http.js";

const keyA = { id: "a", key: randomBytes(32).toString("base64") };
const keyB = { id: "b", key: randomBytes(32) };
const only = (...keys: EncryptionOptions["keys"]) => ({ encryption: { keys } });

// The wrapper keeps the store contract: the whole conformance suite, over an encrypting memory store.
storeConformanceSuite({
  name: "encrypting memory store",
  create: () => encryptStore(createMemoryStore(), { keys: [keyA] }),
  describe,
  it,
});

const lastError = (errors: readonly StoreErrorEvent[]): unknown => errors.at(-1)?.error;

/** 2.5 MiB sent in pieces without a length: streamed, so stored as three chunks. */
function streamed(marker: string) {
  const piece = Buffer.from(`${marker}|`.repeat(Math.ceil((64 * 1024) / (marker.length + 1)))).subarray(
    0,
    64 * 1024,
  );
  return { piece, pieces: 40, total: Buffer.concat(Array.from({ length: 40 }, () => piece)) };
}

/** A server whose answer carries `marker` in a header and all through its body. */
function markedServer(
  store: IdempotencyStore,
  marker: string,
  errors: StoreErrorEvent[] = [],
  onStoreError: "open" | "closed" = "closed",
) {
  const { piece, pieces } = streamed(marker);
  return guardedServer(
    store,
    { onStoreError, hooks: { onStoreError: (event) => void errors.push(event) } },
    (req, res: ServerResponse) => {
      res.setHeader("x-order-note", `note ${marker}`);
      if (req.url === "/small") {
        res.writeHead(201, { "content-type": "text/plain" }).end(`small ${marker}`);
        return;
      }
      res.writeHead(200, { "content-type": "application/octet-stream" });
      for (let i = 0; i < pieces; i++) res.write(piece);
      res.end();
    },
  );
}

describe.each(backends())("encryption at rest ($name)", (backend: Backend) => {
  const opened: IdempotencyStore[] = [];
  afterAll(async () => {
    for (const store of opened) await store.close();
  });
  const open = async (options?: Parameters<Backend["open"]>[0]) => {
    const store = await backend.open(options);
    opened.push(store);
    return store;
  };

  it("replays byte for byte, and the store holds neither the body nor header values in clear", async () => {
    const secret = `secret-${randomUUID()}`;
    const plain = `plain-${randomUUID()}`;
    const encrypted = await markedServer(await open(only(keyA)), secret);
    const control = await markedServer(await open(), plain);
    try {
      for (const server of [encrypted, control]) {
        for (const path of ["/small", "/large"]) {
          const key = newKey();
          const first = await send(server.url + path, { headers: { "idempotency-key": key } });
          const replay = await send(server.url + path, { headers: { "idempotency-key": key } });
          expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
          expect(replay.status).toBe(first.status);
          expect(replay.headers.get("x-order-note")).toBe(first.headers.get("x-order-note"));
          expect(replay.headers.get("content-type")).toBe(first.headers.get("content-type"));
          expect(replay.body.equals(first.body)).toBe(true);
        }
      }
      expect(encrypted.count()).toBe(2);
      const raw = await backend.raw();
      // The unencrypted records next to them show that the scan does see stored bytes.
      expect(raw.includes(`note ${plain}`)).toBe(true);
      expect(raw.includes(`small ${plain}`)).toBe(true);
      expect(raw.includes(`${plain}|${plain}`)).toBe(true);
      expect(raw.includes(secret)).toBe(false);
    } finally {
      await encrypted.close();
      await control.close();
    }
  });

  it("rotates keys: old records still decrypt, new ones use the first key, an unknown key is a 500 record-unreadable problem", async () => {
    const marker = randomUUID();
    const old = newKey();
    const fresh = newKey();
    const underA = await markedServer(await open(only(keyA)), marker);
    const first = await send(`${underA.url}/small`, { headers: { "idempotency-key": old } });
    await underA.close();

    const rotated = await markedServer(await open(only(keyB, keyA)), marker);
    const replay = await send(`${rotated.url}/small`, { headers: { "idempotency-key": old } });
    expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
    expect(replay.body.equals(first.body)).toBe(true);
    await send(`${rotated.url}/large`, { headers: { "idempotency-key": fresh } });
    expect(rotated.count()).toBe(1);
    await rotated.close();

    const errors: StoreErrorEvent[] = [];
    const onlyB = await markedServer(await open(only(keyB)), marker, errors);
    const onlyA = await markedServer(await open(only(keyA)), marker, errors);
    try {
      const refused = await send(`${onlyB.url}/small`, { headers: { "idempotency-key": old } });
      expect(refused.status).toBe(500);
      expect(refused.headers.get("content-type")).toBe("application/problem+json");
      expect(refused.json()).toMatchObject({ type: "https://oncely.dev/problems/record-unreadable" });
      expect(refused.headers.get("retry-after")).toBeNull();
      expect(refused.text).not.toContain(marker);
      expect(lastError(errors)).toBeInstanceOf(UnknownEncryptionKeyError);
      expect((lastError(errors) as UnknownEncryptionKeyError).keyId).toBe("a");
      // The new record was written under B: B alone replays it, A alone cannot read it.
      const replayB = await send(`${onlyB.url}/large`, { headers: { "idempotency-key": fresh } });
      expect(replayB.headers.get("x-idempotency-replayed")).toBe("true");
      expect((await send(`${onlyA.url}/large`, { headers: { "idempotency-key": fresh } })).status).toBe(500);
      expect((lastError(errors) as UnknownEncryptionKeyError).keyId).toBe("b");
      // The process lives on and serves other keys.
      expect((await send(`${onlyB.url}/small`, { headers: { "idempotency-key": newKey() } })).status).toBe(
        201,
      );
      expect(onlyB.count() + onlyA.count()).toBe(1);
    } finally {
      await onlyB.close();
      await onlyA.close();
    }
  });

  it("refuses records that were altered, moved to another key or stored unencrypted, with a 500 problem, even failing open", async () => {
    const marker = randomUUID();
    const errors: StoreErrorEvent[] = [];
    const encrypted = await markedServer(await open(only(keyA)), marker, errors);
    // Failing open is for a store that cannot answer: this one answers with a record it cannot read.
    const failingOpen = await markedServer(await open(only(keyA)), marker, [], "open");
    const plain = await markedServer(await open(), marker);
    // The store as someone with write access to the database sees it.
    const inner = (await open()) as InspectableStore;
    try {
      const [original, altered, moved, unencrypted] = [newKey(), newKey(), newKey(), newKey()];
      await send(`${encrypted.url}/small`, { headers: { "idempotency-key": original } });
      await send(`${encrypted.url}/small`, { headers: { "idempotency-key": altered } });
      await send(`${plain.url}/small`, { headers: { "idempotency-key": unencrypted } });
      const stored = await inner.get({ scope: "anonymous", key: original });
      if (stored?.state !== "completed") throw new Error("the record was not stored");

      /** Writes `record`'s stored fields under `key`, as a foreign writer would. */
      const write = async (key: string, change: (sealed: Buffer) => void) => {
        const ref = { scope: "anonymous", key };
        await inner.delete(ref);
        const claim = await inner.claim({
          ...ref,
          fingerprint: stored.fingerprint,
          token: "t",
          leaseMs: 60_000,
        });
        if (claim.outcome !== "acquired") throw new Error(claim.outcome);
        const [[name, value]] = stored.response.headers as [[string, string]];
        const sealed = Buffer.from(value, "base64");
        change(sealed);
        await inner.complete(claim.lease, {
          response: { ...stored.response, headers: [[name, sealed.toString("base64")]] },
          finalChunk: stored.firstChunk,
          ttlMs: 60_000,
        });
      };
      await write(altered, (sealed) => {
        sealed[sealed.length - 20] = (sealed[sealed.length - 20] as number) ^ 1;
      });
      await write(moved, () => {});

      for (const key of [altered, moved, unencrypted]) {
        const answer = await send(`${encrypted.url}/small`, { headers: { "idempotency-key": key } });
        expect(answer.status).toBe(500);
        expect(answer.json()).toMatchObject({ type: "https://oncely.dev/problems/record-unreadable" });
        expect(answer.text).not.toContain(marker);
        expect(lastError(errors)).toBeInstanceOf(DecryptionFailedError);
        const unguarded = await send(`${failingOpen.url}/small`, { headers: { "idempotency-key": key } });
        expect(unguarded.status).toBe(500);
      }
      expect(failingOpen.count()).toBe(0);
      expect(
        (await send(`${encrypted.url}/small`, { headers: { "idempotency-key": original } })).status,
      ).toBe(201);
      expect(encrypted.count()).toBe(2);
      // Without the keys, an encrypted record is an error too, never its ciphertext replayed.
      const withoutKeys = await send(`${plain.url}/small`, { headers: { "idempotency-key": original } });
      expect(withoutKeys.status).toBe(500);
      expect(plain.count()).toBe(1);
    } finally {
      await encrypted.close();
      await failingOpen.close();
      await plain.close();
    }
  });
});

describe("encryption with oncely/events", () => {
  it("records a deduper's results encrypted, and returns them decrypted", async () => {
    const inner = createMemoryStore();
    const dedupe = createDeduper({ store: await encryptStore(inner, { keys: [keyA] }), scope: "events" });
    const secret = `card-${randomUUID()}`;
    let runs = 0;
    const handler = async () => ({ run: ++runs, secret });
    expect(await dedupe.once("evt_1", handler)).toMatchObject({
      outcome: "executed",
      value: { run: 1, secret },
    });
    expect(await dedupe.once("evt_1", handler)).toMatchObject({
      outcome: "duplicate",
      value: { run: 1, secret },
    });
    const [record] = (await inner.list()).records;
    expect(record?.state).toBe("completed");
    expect(JSON.stringify(record)).not.toContain(secret);
    expect(Buffer.from(record?.state === "completed" ? record.firstChunk : []).includes(secret)).toBe(false);
    await inner.close();
  });
});

describe("encryption keys", () => {
  it("must be 32 bytes with plain, distinct ids; the message never shows key material", async () => {
    const short = randomBytes(31).toString("base64");
    const cases = [
      { keys: [] },
      { keys: [{ id: "k", key: short }] },
      { keys: [{ id: "k", key: "not base64!" }] },
      { keys: [{ id: "has space", key: keyA.key }] },
      { keys: [keyA, { ...keyB, id: "a" }] },
    ];
    for (const encryption of cases) {
      const error = await encryptStore(createMemoryStore(), encryption).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as Error).message).not.toContain(short);
      expect((error as Error).message).not.toContain(keyA.key);
    }
    expect(
      (
        (await encryptStore(createMemoryStore(), { keys: [{ id: "k", key: short }] }).catch(
          (e) => e,
        )) as Error
      ).message,
    ).toContain("31 bytes");
  });

  it("binds each body chunk to its record and its place: swapped chunks fail", async () => {
    const inner = createMemoryStore();
    const store = await encryptStore(inner, { keys: [keyA] });
    const ref = { scope: "s", key: "k" };
    const claim = await store.claim({ ...ref, fingerprint: "f", token: "t", leaseMs: 60_000 });
    if (claim.outcome !== "acquired") throw new Error(claim.outcome);
    await store.appendChunk(claim.lease, 0, Buffer.from("zero"));
    await store.appendChunk(claim.lease, 1, Buffer.from("one"));
    await store.complete(claim.lease, {
      response: { status: 200, headers: [], bodyLength: 9, chunkCount: 3, bodyOmitted: false },
      finalChunk: Buffer.from("two"),
      ttlMs: 60_000,
    });
    expect(Buffer.from((await store.readChunk(ref, 2)) ?? []).toString()).toBe("two");
    // Chunk 1's ciphertext written as chunk 2 of the same record.
    const one = await inner.readChunk(ref, 1);
    const again = await inner.claim({ scope: "s", key: "k2", fingerprint: "f", token: "t", leaseMs: 60_000 });
    if (again.outcome !== "acquired" || !one) throw new Error("setup");
    await inner.appendChunk(again.lease, 1, one);
    await inner.complete(again.lease, {
      response: { status: 200, headers: [], bodyLength: 3, chunkCount: 3, bodyOmitted: false },
      finalChunk: one,
      ttlMs: 60_000,
    });
    await expect(store.readChunk({ scope: "s", key: "k2" }, 1)).rejects.toBeInstanceOf(DecryptionFailedError);
    await inner.delete(ref);
    const swapped = await inner.claim({ ...ref, fingerprint: "f", token: "t2", leaseMs: 60_000 });
    if (swapped.outcome !== "acquired") throw new Error("setup");
    await inner.appendChunk(swapped.lease, 2, one);
    await inner.complete(swapped.lease, {
      response: { status: 200, headers: [], bodyLength: 3, chunkCount: 4, bodyOmitted: false },
      finalChunk: one,
      ttlMs: 60_000,
    });
    await expect(store.readChunk(ref, 2)).rejects.toBeInstanceOf(DecryptionFailedError);
    await store.close();
  });
});
