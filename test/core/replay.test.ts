// A replay's headers, and its body read chunk by chunk from a real memory store.
import { describe, expect, it } from "vitest";
import { buildReplay, isSealed, ReplayInterruptedError, readBody } from "../../src/core/replay.js";
import { createStore } from "../../src/index.js";
import type { CompletedRecord, IdempotencyStore } from "../../src/store.js";
import { newKey } from "../helpers/http.js";

/** A completed record of `chunks` on `store`, living `ttlMs`. */
async function completed(
  store: IdempotencyStore,
  chunks: string[],
  ttlMs = 60_000,
): Promise<CompletedRecord> {
  const key = newKey();
  const claim = await store.claim({ scope: "replays", key, fingerprint: "f", token: key, leaseMs: 60_000 });
  if (claim.outcome !== "acquired") throw new Error("a fresh key was not acquired");
  for (const [index, chunk] of chunks.slice(0, -1).entries())
    await store.appendChunk(claim.lease, index, Buffer.from(chunk));
  await store.complete(claim.lease, {
    response: {
      status: 201,
      headers: [["content-type", "text/plain"]],
      bodyLength: chunks.join("").length,
      chunkCount: chunks.length,
      bodyOmitted: false,
    },
    finalChunk: Buffer.from(chunks.at(-1) ?? ""),
    ttlMs,
  });
  const record = await store.get({ scope: "replays", key });
  if (record?.state !== "completed") throw new Error("the record was not completed");
  return record;
}

async function text(body: AsyncIterable<Uint8Array>): Promise<string[]> {
  const pieces: string[] = [];
  for await (const chunk of body) pieces.push(Buffer.from(chunk).toString());
  return pieces;
}

describe("replays", () => {
  it("read every chunk of the body, in order", async () => {
    const store = await createStore("memory:");
    expect(await text(readBody(store, await completed(store, ["one", "two", "three"])))).toEqual([
      "one",
      "two",
      "three",
    ]);
    expect(await text(readBody(store, await completed(store, [])))).toEqual([]);
    await store.close();
  });

  it("fail naming the chunk that vanished when the record expires mid-replay", async () => {
    const store = await createStore("memory:");
    const record = await completed(store, ["one", "two"], 50);
    const body = readBody(store, record)[Symbol.asyncIterator]();
    expect(Buffer.from((await body.next()).value as Uint8Array).toString()).toBe("one");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const error = await body.next().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ReplayInterruptedError);
    expect(error).toMatchObject({
      code: "ONCELY_REPLAY_INTERRUPTED",
      message: "stored body chunk 1 vanished during the replay",
    });
    await store.close();
  });

  it("carry the stored headers, the replay marker and Content-Length, and know a sealed record", async () => {
    const store = await createStore("memory:");
    const record = await completed(store, ["one", "two"]);
    expect(buildReplay(store, record, "x-replayed").headers).toEqual([
      ["content-type", "text/plain"],
      ["x-replayed", "true"],
      ["content-length", "6"],
    ]);
    const response = { ...record.response, headers: [...record.response.headers, ["x-order", "1"] as const] };
    // A body too large to keep: its type goes with it, the marker says so, the length is 0.
    const omitted = { ...record, response: { ...response, bodyOmitted: true, bodyLength: 0, chunkCount: 0 } };
    expect(buildReplay(store, omitted, "x-replayed").headers).toEqual([
      ["x-order", "1"],
      ["x-replayed", "true"],
      ["x-idempotency-body-omitted", "true"],
      ["content-length", "0"],
    ]);
    // A status that never has a body gets no Content-Length.
    const empty = { ...record, response: { ...response, status: 204, bodyLength: 0, chunkCount: 0 } };
    expect(buildReplay(store, empty, "x-replayed")).toMatchObject({
      status: 204,
      headers: [
        ["content-type", "text/plain"],
        ["x-order", "1"],
        ["x-replayed", "true"],
      ],
    });
    expect(isSealed(record)).toBe(false);
    expect(
      isSealed({ ...record, response: { ...record.response, headers: [["x-oncely-sealed", "…"]] } }),
    ).toBe(true);
    expect(isSealed({ ...record, response: { ...record.response, headers: [] } })).toBe(false);
    await store.close();
  });
});
