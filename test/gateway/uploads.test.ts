// Uploads of any size through the gateway (issue 16): a body larger than
// maxRequestBodyBytes is not held but streamed to the upstream while its fingerprint is
// hashed on the way. Real gateway on loopback in front of a real upstream that hashes what
// it receives, on every store.
import { createHash } from "node:crypto";
import http from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGateway, type Gateway } from "../../src/gateway/gateway.js";
import type { IdempotencyStore } from "../../src/store.js";
import { listen, newKey, type TestServer } from "../helpers/http.js";
import { claimed, completion, storeCases } from "../helpers/stores.js";

const MiB = 1024 * 1024;

/** The upstream: hashes each request body as it arrives and answers with its digest and size. */
interface HashingUpstream extends TestServer {
  /** Requests that reached the upstream. */
  started: number;
  /** Requests whose whole body arrived and were answered. */
  completed: number;
  /** Requests whose body broke off (the gateway cut the call). */
  aborted: number;
}

async function startHashingUpstream(): Promise<HashingUpstream> {
  const counts = { started: 0, completed: 0, aborted: 0 };
  const server = await listen((req, res) => {
    counts.started++;
    const hash = createHash("sha256");
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
    });
    req.once("end", () => {
      counts.completed++;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ call: counts.completed, size, sha256: hash.digest("hex") }));
    });
    req.once("close", () => {
      if (!req.complete) counts.aborted++;
    });
  });
  return Object.assign(counts, server);
}

/** `size` bytes of a pattern that `seed` varies, generated a piece at a time. */
function* pieces(size: number, seed: number, pieceSize = 256 * 1024): Generator<Buffer> {
  for (let offset = 0; offset < size; offset += pieceSize) {
    const piece = Buffer.alloc(Math.min(pieceSize, size - offset));
    for (let i = 0; i < piece.length; i++) piece[i] = ((offset + i) * 31 + seed * 7) & 0xff;
    yield piece;
  }
}

function sha256Of(size: number, seed: number): string {
  const hash = createHash("sha256");
  for (const piece of pieces(size, seed)) hash.update(piece);
  return hash.digest("hex");
}

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

interface Upload {
  readonly answer: Promise<Answer>;
  /** Resolves once the first `bytes` have been written. */
  written(bytes: number): Promise<void>;
  /** Lets a held upload write its rest. */
  release(): void;
  /** Cuts the connection: the client leaves mid-upload. */
  abort(): void;
}

/**
 * POSTs `size` patterned bytes with `key`, with Content-Length or chunked, optionally
 * holding after `holdAt` bytes until `release()`. The answer settles at the response (an
 * error after it, from a connection the gateway closed, does not count).
 */
function upload(
  url: string,
  key: string,
  size: number,
  seed: number,
  { chunked = false, holdAt = Number.POSITIVE_INFINITY } = {},
): Upload {
  const request = http.request(`${url}/uploads`, {
    method: "POST",
    agent: false,
    headers: {
      "idempotency-key": key,
      "content-type": "application/octet-stream",
      ...(chunked ? {} : { "content-length": String(size) }),
    },
  });
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let sent = 0;
  const waiters: Array<{ bytes: number; resolve: () => void }> = [];
  const answer = new Promise<Answer>((resolve, reject) => {
    request.once("response", (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.once("end", () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }),
      );
      response.once("error", reject);
    });
    request.once("error", reject);
  });
  answer.catch(() => {});
  void (async () => {
    for (const piece of pieces(size, seed)) {
      if (request.destroyed) return;
      if (sent + piece.length > holdAt && sent <= holdAt) await held;
      if (request.destroyed) return;
      sent += piece.length;
      const more = request.write(piece);
      for (const waiter of waiters.filter((w) => sent >= w.bytes)) waiter.resolve();
      if (!more) await new Promise((resolve) => request.once("drain", resolve).once("close", resolve));
    }
    request.end();
  })();
  return {
    answer,
    written: (bytes) =>
      new Promise((resolve) => {
        if (sent >= bytes) resolve();
        else waiters.push({ bytes, resolve });
      }),
    release,
    abort: () => request.destroy(),
  };
}

const json = (answer: Answer) =>
  JSON.parse(answer.body.toString()) as { call: number; size: number; sha256: string };

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe.each(storeCases())("uploads through the gateway on $name", ({ create }) => {
  let store: IdempotencyStore;
  let upstream: HashingUpstream;
  /** Defaults: bodies up to 10 MiB are held, larger ones stream. */
  let plain: Gateway;
  /** Streams above 64 KiB, caps uploads at 4 MiB. */
  let small: Gateway;
  /** As `small`, and waits up to 10 s for a key in flight. */
  let waiting: Gateway;
  const urls = new Map<Gateway, string>();

  beforeAll(async () => {
    store = await create();
    upstream = await startHashingUpstream();
    const start = async (options: object) => {
      const gateway = createGateway({ store, upstream: upstream.url, ...options });
      const { port } = await gateway.listen(0, "127.0.0.1");
      urls.set(gateway, `http://127.0.0.1:${port}`);
      return gateway;
    };
    const streamy = { maxRequestBodyBytes: 64 * 1024, maxUploadBytes: 4 * MiB };
    [plain, small, waiting] = await Promise.all([
      start({}),
      start(streamy),
      start({ ...streamy, wait: 10_000 }),
    ]);
  }, 30_000);

  afterAll(async () => {
    await Promise.all([plain, small, waiting].map((gateway) => gateway?.close(0)));
    await upstream?.close();
    await store?.close();
  });

  const url = (gateway: Gateway) => urls.get(gateway) as string;

  for (const chunked of [false, true]) {
    const framing = chunked ? "chunked, without Content-Length" : "with Content-Length";
    it(`forwards a 20 MiB upload ${framing} byte-identical, and replays its retry without the upstream`, async () => {
      const key = newKey();
      const before = upstream.started;
      const first = await upload(url(plain), key, 20 * MiB, 1, { chunked }).answer;
      expect(first.status).toBe(200);
      expect(json(first)).toMatchObject({ size: 20 * MiB, sha256: sha256Of(20 * MiB, 1) });
      expect(upstream.started).toBe(before + 1);

      const retry = await upload(url(plain), key, 20 * MiB, 1, { chunked: !chunked }).answer;
      expect(retry.status).toBe(200);
      expect(retry.headers["x-idempotency-replayed"]).toBe("true");
      expect(retry.body.equals(first.body)).toBe(true);
      expect(upstream.started).toBe(before + 1);
    }, 60_000);
  }

  it("answers 422 to the key with other bytes of the same length, after reading them, without the upstream", async () => {
    const key = newKey();
    expect((await upload(url(plain), key, 20 * MiB, 2).answer).status).toBe(200);
    const before = upstream.started;
    const other = await upload(url(plain), key, 20 * MiB, 3).answer;
    expect(other.status).toBe(422);
    expect(JSON.parse(other.body.toString())).toMatchObject({
      type: "https://oncely.dev/problems/key-reused",
    });
    expect(upstream.started).toBe(before);
  }, 60_000);

  it("answers 409 to a duplicate sent while the first upload is still streaming, whatever its body", async () => {
    const key = newKey();
    const first = upload(url(small), key, 1 * MiB, 4, { chunked: true, holdAt: 512 * 1024 });
    await first.written(512 * 1024);
    await claimed(store, key);
    const same = await upload(url(small), key, 1 * MiB, 4).answer;
    expect(same.status).toBe(409);
    // A body small enough to hold has a fingerprint, the record's is not known yet: not 422.
    const held = await upload(url(small), key, 1024, 5).answer;
    expect(held.status).toBe(409);
    first.release();
    const answer = await first.answer;
    expect(answer.status).toBe(200);
    expect(json(answer)).toMatchObject({ size: 1 * MiB, sha256: sha256Of(1 * MiB, 4) });
  }, 30_000);

  it("with wait, answers a duplicate sent mid-upload with the replay once the first completes", async () => {
    const key = newKey();
    const before = upstream.started;
    const first = upload(url(waiting), key, 1 * MiB, 6, { chunked: true, holdAt: 512 * 1024 });
    await first.written(512 * 1024);
    await claimed(store, key);
    const duplicate = upload(url(waiting), key, 1 * MiB, 6).answer;
    await sleep(200);
    first.release();
    const [original, replay] = await Promise.all([first.answer, duplicate]);
    expect(original.status).toBe(200);
    expect(replay.status).toBe(200);
    expect(replay.headers["x-idempotency-replayed"]).toBe("true");
    expect(replay.body.equals(original.body)).toBe(true);
    expect(upstream.started).toBe(before + 1);
  }, 30_000);

  it("cuts the upstream call of a client that leaves mid-upload and releases the key: the retry executes", async () => {
    const key = newKey();
    const aborted = upstream.aborted;
    const completed = upstream.completed;
    const first = upload(url(small), key, 2 * MiB, 7, { holdAt: 1 * MiB });
    await first.written(1 * MiB);
    await claimed(store, key);
    first.abort();
    await until(() => upstream.aborted === aborted + 1, "the upstream to see its call cut");
    await until(
      async () => (await store.get({ scope: "anonymous", key })) === undefined,
      "the key's release",
    );
    expect(upstream.completed).toBe(completed);

    const retry = await upload(url(small), key, 2 * MiB, 7).answer;
    expect(retry.status).toBe(200);
    expect(json(retry)).toMatchObject({ size: 2 * MiB, sha256: sha256Of(2 * MiB, 7) });
    await completion(store, key);
  }, 30_000);

  it("streams a body between maxRequestBodyBytes and maxUploadBytes, and answers 413 above the cap", async () => {
    const key = newKey();
    expect((await upload(url(small), key, 3 * MiB, 8).answer).status).toBe(200);

    // Announced too large: refused before the key is claimed or the upstream called.
    const before = upstream.started;
    const announced = newKey();
    const refused = await upload(url(small), announced, 5 * MiB, 9).answer;
    expect(refused.status).toBe(413);
    expect(JSON.parse(refused.body.toString())).toMatchObject({
      type: "https://oncely.dev/problems/request-too-large",
    });
    expect(upstream.started).toBe(before);
    expect(await store.get({ scope: "anonymous", key: announced })).toBeUndefined();

    // Chunked: found out on the way; the call already started upstream is cut, the key released.
    const aborted = upstream.aborted;
    const streamed = newKey();
    const cut = await upload(url(small), streamed, 5 * MiB, 9, { chunked: true }).answer;
    expect(cut.status).toBe(413);
    await until(() => upstream.aborted === aborted + 1, "the upstream to see its call cut");
    await until(
      async () => (await store.get({ scope: "anonymous", key: streamed })) === undefined,
      "the release",
    );
  }, 30_000);
});
