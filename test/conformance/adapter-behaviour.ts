/**
 * One HTTP behaviour suite for every adapter: each adapter's test file calls
 * {@link describeAdapter} with a few lines that serve the {@link BehaviourApp} through its
 * framework, on a real loopback server, and adds its own extras.
 * @module
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { IdempotencyStore } from "../../src/store.js";
import { newKey, type Reply, send, type TestServer } from "../helpers/http.js";
import { claimed, completion, released, slowAt, storeCases } from "../helpers/stores.js";
import { BehaviourApp, BIG_BYTES, Gate, type Serve } from "./behaviour-app.js";

/** Where an adapter's framework differs, and the suite checks the documented behaviour instead. */
export interface AdapterTraits {
  /**
   * The framework destroys a streamed body when the client leaves (Koa), so the response
   * cannot be stored then: the suite checks that no truncated body is stored instead.
   * @default false
   */
  destroysStreamsOnAbort?: boolean;
}

/** Bodies up to this are buffered for the fingerprint by the `uploads` server; larger ones stream. */
const UPLOAD_BUFFERED = 64 * 1024;
/** The `uploads` server's `maxUploadBytes`. */
const UPLOAD_CAP = 768 * 1024;
/** A keyed upload: over {@link UPLOAD_BUFFERED}, under the frameworks' default body limits (1 MiB). */
const UPLOAD_BYTES = 512 * 1024;

/** Registers the behaviour suite for one adapter, once per store of `storeCases()`. */
export function describeAdapter(name: string, serve: Serve, traits: AdapterTraits = {}): void {
  describe.each(storeCases())(`${name} adapter on the $name store`, ({ name: storeName, create }) => {
    let store: IdempotencyStore;
    let app: BehaviourApp;
    let server: TestServer;
    let waiting: TestServer;
    let jsonKey: TestServer;
    let slowToComplete: TestServer;
    let slowToClaim: TestServer;
    let uploads: TestServer;
    let slowUploads: TestServer;
    let waitingUploads: TestServer;

    beforeAll(async () => {
      store = await create();
      app = new BehaviourApp();
      server = await serve({ store }, app);
      waiting = await serve({ store, wait: 5_000 }, app);
      jsonKey = await serve(
        { store, key: (request) => requestIdOf(request.body), maxRequestBodyBytes: 64 * 1024 },
        app,
      );
      slowToComplete = await serve({ store: slowAt(store, "complete", 150) }, app);
      slowToClaim = await serve({ store: slowAt(store, "claim", 200) }, app);
      uploads = await serve({ store, maxRequestBodyBytes: UPLOAD_BUFFERED, maxUploadBytes: UPLOAD_CAP }, app);
      waitingUploads = await serve(
        { store, wait: 5_000, maxRequestBodyBytes: UPLOAD_BUFFERED, maxUploadBytes: UPLOAD_CAP },
        app,
      );
      slowUploads = await serve(
        {
          store: slowAt(store, "claim", 200),
          maxRequestBodyBytes: UPLOAD_BUFFERED,
          maxUploadBytes: UPLOAD_CAP,
        },
        app,
      );
    });
    afterAll(async () => {
      await Promise.all([
        server.close(),
        waiting.close(),
        jsonKey.close(),
        slowToComplete.close(),
        slowToClaim.close(),
        uploads.close(),
        slowUploads.close(),
        waitingUploads.close(),
      ]);
      await store.close();
    });
    beforeEach(() => {
      app.slow = new Gate();
      app.abandoned = new Gate();
    });

    const post = (
      target: TestServer,
      path: string,
      key: string | undefined,
      body: string | Uint8Array = "{}",
    ) => send(`${target.url}${path}`, { headers: key === undefined ? {} : { "idempotency-key": key }, body });

    /**
     * Sends `path` twice with one key to `target` (a server with `wait`), the second while the
     * first waits at the slow gate: the second must get the first's answer as a replay.
     */
    const expectWaitedReplay = async (target: TestServer, path: string, body?: Uint8Array) => {
      app.slow = new Gate();
      const key = newKey();
      const first = post(target, path, key, body);
      await app.slow.reached;
      const patient = post(target, path, key, body);
      await new Promise((resolve) => setTimeout(resolve, 100));
      app.slow.open();
      const [answered, replayed] = await Promise.all([first, patient]);
      expect(replayed.status).toBe(201);
      expect(replayed.headers.get("x-idempotency-replayed")).toBe("true");
      expect(replayed.body.equals(answered.body)).toBe(true);
    };

    /** An upload answered by the handler itself (not a replay), as its execution `count`. */
    const expectExecuted = (reply: Reply, body: Uint8Array, count: number) => {
      expect(reply.status).toBe(201);
      expect(reply.headers.get("x-idempotency-replayed")).toBeNull();
      expect(reply.json()).toMatchObject({ count, sha256: sha256(body) });
    };

    it.each(["/orders", "/stream"])(
      "replays %s byte for byte with the replay header, executing once",
      async (path) => {
        const key = newKey();
        const first = await post(server, path, key, "tea");
        const replay = await post(server, path, key, "tea");
        expect(first.status).toBe(201);
        expect(first.headers.get("x-idempotency-replayed")).toBeNull();
        expect(replay.status).toBe(201);
        expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
        expect(replay.headers.get("content-type")).toBe(first.headers.get("content-type"));
        expect(replay.headers.get("x-order")).toBe(first.headers.get("x-order"));
        expect(replay.body.equals(first.body)).toBe(true);
        expect(replay.headers.get("content-length")).toBe(String(first.body.length));
        expect(app.count(path)).toBe(1);
      },
    );

    it.each(["/orders", "/stream"])(
      "ends %s only once its record is complete, so a retry sent at once is a replay",
      async (path) => {
        const key = newKey();
        const first = await post(slowToComplete, path, key, "tea");
        const retry = await post(slowToComplete, path, key, "tea");
        expect(first.status).toBe(201);
        expect(retry.status).toBe(201);
        expect(retry.headers.get("x-idempotency-replayed")).toBe("true");
        expect(retry.body.equals(first.body)).toBe(true);
      },
    );

    it("never runs the handler without the body of a client that left while its key was claimed", async () => {
      const key = newKey();
      const body = '{"item":"tea"}';
      const socket = connect(Number(new URL(slowToClaim.url).port), "127.0.0.1");
      await once(socket, "connect");
      socket.on("error", () => {});
      socket.write(
        `POST /orders HTTP/1.1\r\nHost: x\r\nIdempotency-Key: ${key}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, 400));
      // Executed with its body and replayed, or let go and executed now: never an answer to no body.
      const retry = await post(slowToClaim, "/orders", key, body);
      expect(retry.status).toBe(201);
      expect(retry.json()).toMatchObject({ body });
    });

    it("answers 409 to a duplicate in flight, and with `wait` the duplicate gets the replay", async () => {
      const key = newKey();
      const original = post(server, "/slow", key);
      await app.slow.reached;
      const duplicate = await post(server, "/slow", key);
      expectProblem(duplicate, 409, "request-in-progress");
      expect(duplicate.headers.get("retry-after")).toBe("1");
      app.slow.open();
      expect((await original).status).toBe(201);

      await expectWaitedReplay(waiting, "/slow");
      expect(app.count("/slow")).toBe(2);
    });

    it("answers 422 to a key reused with another body", async () => {
      const key = newKey();
      expect((await post(server, "/orders", key, "tea")).status).toBe(201);
      const before = app.count("/orders");
      expectProblem(await post(server, "/orders", key, "coffee"), 422, "key-reused");
      expect(app.count("/orders")).toBe(before);
    });

    it.each([
      ["two keys in one line", "a, b"],
      ["a key longer than 128 characters", "k".repeat(129)],
      ["a key that is not printable ASCII", "caf\u00e9"],
      ["an unterminated quoted key", '"open'],
    ])("answers 400 to %s", async (_, key) => {
      const before = app.count("/orders");
      expectProblem(await post(server, "/orders", key), 400, "invalid-key");
      expect(app.count("/orders")).toBe(before);
    });

    it("releases the key when the handler throws or answers 5xx, so a retry executes again", async () => {
      for (const path of ["/fail", "/unavailable"]) {
        const key = newKey();
        const before = app.count(path);
        const first = await post(server, path, key);
        const retry = await post(server, path, key);
        expect(first.status).toBeGreaterThanOrEqual(500);
        expect(retry.status).toBe(first.status);
        expect(retry.headers.get("x-idempotency-replayed")).toBeNull();
        expect(app.count(path)).toBe(before + 2);
      }
    });

    it("keeps no answer the handler marks X-Idempotency-Store: no, and never shows it to the client", async () => {
      const key = newKey();
      const before = app.count("/declined");
      const first = await post(server, "/declined", key);
      const retry = await post(server, "/declined", key);
      expect([first.status, retry.status]).toEqual([201, 201]);
      expect(first.headers.get("x-idempotency-store")).toBeNull();
      expect(retry.headers.get("x-idempotency-replayed")).toBeNull();
      expect(app.count("/declined")).toBe(before + 2);
    });

    const itUnless = (skip: boolean) => (skip ? () => {} : it);
    itUnless(traits.destroysStreamsOnAbort === true)(
      "stores the response of a handler whose client left, so the retry is a replay",
      async () => {
        const key = newKey();
        expect(await leaveAfterFirstPiece(server, key)).toBe("first piece of execution 1\n");
        await claimed(store, key);
        await new Promise((resolve) => setTimeout(resolve, 100));
        app.abandoned.open();
        await completion(store, key);
        const retry = await post(server, "/abandoned", key);
        expect(retry.status).toBe(201);
        expect(retry.headers.get("x-idempotency-replayed")).toBe("true");
        expect(retry.text).toBe("first piece of execution 1\nwritten after the client left\n");
        expect(app.count("/abandoned")).toBe(1);
      },
    );

    itUnless(traits.destroysStreamsOnAbort !== true)(
      "never stores the truncated body of a stream the framework destroyed when its client left",
      async () => {
        const key = newKey();
        await leaveAfterFirstPiece(server, key);
        await new Promise((resolve) => setTimeout(resolve, 100));
        app.abandoned.open();
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect((await store.get({ scope: "anonymous", key }))?.state).toBe("in_flight");
        expectProblem(await post(server, "/abandoned", key), 409, "request-in-progress");
      },
    );

    // 50 MiB through a server store costs more than it tells; the contract suites cover them.
    itUnless(storeName !== "memory" && storeName !== "sqlite")(
      "streams a 50 MiB response and replays it byte for byte",
      async () => {
        const key = newKey();
        const first = await digestOf(server, key);
        const replay = await digestOf(server, key);
        expect(first).toMatchObject({ status: 201, length: BIG_BYTES, replayed: null });
        expect(replay).toEqual({ ...first, replayed: "true" });
        expect(app.count("/big")).toBe(1);
      },
    );

    it("reads the key from the JSON body with the `key` option", async () => {
      const requestId = `r-${randomUUID()}`;
      const body = JSON.stringify({ requestId, item: 1 });
      const first = await post(jsonKey, "/orders", undefined, body);
      const replay = await post(jsonKey, "/orders", undefined, body);
      expect(first.status).toBe(201);
      expect(first.json()).toMatchObject({ body });
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      expect(replay.body.equals(first.body)).toBe(true);
      const reused = await post(jsonKey, "/orders", undefined, JSON.stringify({ requestId, item: 2 }));
      expectProblem(reused, 422, "key-reused");
      const unkeyed = await post(jsonKey, "/orders", undefined, JSON.stringify({ item: 3 }));
      expect(unkeyed.status).toBe(201);
    });

    it("answers 413 to a body too large to fingerprint, without running the handler", async () => {
      const before = app.count("/orders");
      const body = JSON.stringify({ requestId: `r-${randomUUID()}`, padding: "x".repeat(100 * 1024) });
      expectProblem(await post(jsonKey, "/orders", undefined, body), 413, "request-too-large");
      expect(app.count("/orders")).toBe(before);
    });

    it("streams a keyed body over maxRequestBodyBytes to the handler once, replays the same bytes, and answers 422 to others", async () => {
      const key = newKey();
      const body = randomBytes(UPLOAD_BYTES);
      const before = app.count("/upload");
      const first = await post(uploads, "/upload", key, body);
      expect(first.status).toBe(201);
      expect(first.json()).toEqual({ count: before + 1, length: body.length, sha256: sha256(body) });
      const replay = await post(uploads, "/upload", key, body);
      expect(replay.status).toBe(201);
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      expect(replay.body.equals(first.body)).toBe(true);
      const other = Buffer.from(body);
      other[other.length - 1] = (other.at(-1) ?? 0) ^ 1;
      expectProblem(await post(uploads, "/upload", key, other), 422, "key-reused");
      expect(app.count("/upload")).toBe(before + 1);
    });

    it("answers 409 to a duplicate of a streamed body in flight, and with `wait` the duplicate gets the replay", async () => {
      const key = newKey();
      const body = randomBytes(UPLOAD_BYTES);
      const original = post(uploads, "/slow-upload", key, body);
      await app.slow.reached;
      expectProblem(await post(uploads, "/slow-upload", key, body), 409, "request-in-progress");
      app.slow.open();
      const answered = await original;
      expect(answered.status).toBe(201);
      expect(answered.json()).toMatchObject({ length: body.length, sha256: sha256(body) });

      const before = app.count("/slow-upload");
      await expectWaitedReplay(waitingUploads, "/slow-upload", body);
      expect(app.count("/slow-upload")).toBe(before + 1);
    });

    it("answers 413 to a keyed body that announces more than maxUploadBytes, without claiming its key", async () => {
      const key = newKey();
      const before = app.count("/upload");
      // Only the head is sent: the answer must not wait for the body.
      const head = await rawAnswer(await startUpload(uploads, key, `Content-Length: ${UPLOAD_CAP + 1}`));
      expect(head).toMatch(/^HTTP\/1\.1 413 /);
      expect(head).toContain("https://oncely.dev/problems/request-too-large");
      expect(await store.get({ scope: "anonymous", key })).toBeUndefined();
      expect(app.count("/upload")).toBe(before);
    });

    it("never runs the handler on half a streamed body whose client left while its key was claimed", async () => {
      const key = newKey();
      const body = randomBytes(UPLOAD_BYTES);
      const socket = await startUpload(slowUploads, key, `Content-Length: ${body.length}`);
      socket.write(body.subarray(0, UPLOAD_BYTES / 2));
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.destroy();
      const before = app.count("/upload");
      await new Promise((resolve) => setTimeout(resolve, 400));
      await released(store, key);
      expect(app.count("/upload")).toBe(before);
      await expectExecuted(await post(slowUploads, "/upload", key, body), body, before + 1);
    });

    it("cuts off a chunked body that grows past maxUploadBytes and releases its key, so a retry executes", async () => {
      const key = newKey();
      const socket = await startUpload(uploads, key, "Transfer-Encoding: chunked");
      const chunk = (bytes: Buffer) => `${bytes.length.toString(16)}\r\n${bytes.toString("latin1")}\r\n`;
      socket.write(chunk(randomBytes(UPLOAD_BYTES / 2)), "latin1");
      await claimed(store, key);
      const before = app.count("/upload");
      socket.write(chunk(randomBytes(UPLOAD_CAP)), "latin1");
      await released(store, key);
      socket.destroy();
      expect(app.count("/upload")).toBe(before);
      const body = randomBytes(UPLOAD_BYTES);
      await expectExecuted(await post(uploads, "/upload", key, body), body, before + 1);
    });

    it("releases the key of a client that leaves mid-upload, so its retry executes", async () => {
      const key = newKey();
      const body = randomBytes(UPLOAD_BYTES);
      const socket = await startUpload(uploads, key, `Content-Length: ${body.length}`);
      socket.write(body.subarray(0, UPLOAD_BYTES / 2));
      await claimed(store, key);
      socket.destroy();
      await released(store, key);
      const before = app.count("/upload");
      await expectExecuted(await post(uploads, "/upload", key, body), body, before + 1);
    });

    it("passes requests without a key and unguarded methods through untouched", async () => {
      const before = app.count("/orders");
      const unkeyed = await post(server, "/orders", undefined);
      const got = await send(`${server.url}/orders`, { method: "GET", headers: { "idempotency-key": "x" } });
      expect([unkeyed.status, got.status]).toEqual([201, 201]);
      expect(app.count("/orders")).toBe(before + 2);
    });
  });
}

/** POSTs `/abandoned`, reads the first piece of the streamed answer, and leaves. */
async function leaveAfterFirstPiece(server: TestServer, key: string): Promise<string> {
  const controller = new AbortController();
  const response = await fetch(`${server.url}/abandoned`, {
    method: "POST",
    headers: { "idempotency-key": key },
    body: "{}",
    signal: controller.signal,
  });
  expect(response.status).toBe(201);
  const first = await response.body?.getReader().read();
  controller.abort();
  return new TextDecoder().decode(first?.value);
}

function requestIdOf(body: Uint8Array | undefined): string | undefined {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(body));
    const id = (parsed as { requestId?: unknown } | null)?.requestId;
    return typeof id === "string" ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Opens a connection and sends the head of a keyed POST /upload framed by `framing`; the body is the caller's. */
async function startUpload(server: TestServer, key: string, framing: string): Promise<Socket> {
  const socket = connect(server.port, "127.0.0.1");
  socket.on("error", () => {});
  await once(socket, "connect");
  socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\nIdempotency-Key: ${key}\r\n${framing}\r\n\r\n`);
  return socket;
}

/** Resolves with what comes back on `socket` until the answer's body is whole. */
async function rawAnswer(socket: Socket): Promise<string> {
  let received = "";
  for await (const chunk of socket) {
    received += String(chunk);
    const [head = "", body = ""] = received.split("\r\n\r\n");
    const length = /content-length: (\d+)/i.exec(head)?.[1];
    if (length !== undefined && Buffer.byteLength(body) >= Number(length)) break;
  }
  socket.destroy();
  return received;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function expectProblem(reply: Reply, status: number, slug: string): void {
  expect(reply.status).toBe(status);
  expect(reply.headers.get("content-type")).toBe("application/problem+json");
  expect(reply.json()).toMatchObject({ type: `https://oncely.dev/problems/${slug}`, status });
}

/** POSTs `/big` and hashes the body as it streams, without holding 50 MiB. */
async function digestOf(server: TestServer, key: string) {
  const response = await fetch(`${server.url}/big`, {
    method: "POST",
    headers: { "idempotency-key": key },
    body: "{}",
  });
  const hash = createHash("sha256");
  let length = 0;
  for await (const chunk of response.body ?? []) {
    hash.update(chunk);
    length += chunk.length;
  }
  return {
    status: response.status,
    length,
    replayed: response.headers.get("x-idempotency-replayed"),
    digest: hash.digest("hex"),
  };
}
