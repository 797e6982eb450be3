// The engine's own decisions, through its adapter-facing API on a real memory store: which
// bodies it needs, and the requests whose body streams on while it is hashed (the gateway's
// large uploads), whose fingerprint is only known once the body has ended.
import { afterAll, describe, expect, it } from "vitest";
import { createEngine, type Decision } from "../../src/core/engine.js";
import type { Execution } from "../../src/core/execution.js";
import type { IncomingRequest } from "../../src/core/request.js";
import {
  createStore,
  DecryptionFailedError,
  encryptStore,
  type ReleasedEvent,
  type StoreErrorEvent,
} from "../../src/index.js";
import { type IdempotencyStore, PENDING_FINGERPRINT } from "../../src/store.js";
import { newKey } from "../helpers/http.js";
import { failing, withMethod } from "../helpers/stores.js";

const store = await createStore("memory:");
afterAll(() => store.close());

/** A POST to /uploads with `key`; `body` is whole, or streams on when `streamed`. */
function upload(
  key: string,
  body: string,
  streamed: boolean,
  headers: Record<string, string> = {},
): IncomingRequest & { readonly hashed: () => number } {
  const lines: Record<string, string[]> = { "idempotency-key": [key] };
  for (const [name, value] of Object.entries(headers)) lines[name] = [value];
  let hashed = 0;
  const request = { method: "POST", path: "/uploads", header: (name: string) => lines[name] ?? [] };
  if (!streamed) return { ...request, body: Buffer.from(body), hashed: () => hashed };
  return {
    ...request,
    bodyFingerprint: async () => {
      hashed += 1;
      // As the adapter does: the body's pieces through the engine's hasher.
      const hasher = engine.bodyHasher(request);
      for (const piece of [body.slice(0, 3), body.slice(3)]) hasher.update(Buffer.from(piece));
      return hasher.digest();
    },
    hashed: () => hashed,
  };
}

const engine = createEngine({ store });

/** The headers of every problem answer without `Retry-After`. */
const PROBLEM_HEADERS = [
  ["content-type", "application/problem+json"],
  ["cache-control", "no-store"],
];

/** The status, headers and parsed body of a problem answer; throws for any other decision. */
function problemOf(decision: Decision) {
  if (decision.action !== "respond") throw new Error(`expected a problem answer, got ${decision.action}`);
  const { status, headers, body } = decision.response;
  return { status, headers, body: JSON.parse(body) as unknown };
}

function executed(decision: Decision): Execution {
  if (decision.action !== "execute") throw new Error(`expected an execution, got ${decision.action}`);
  return decision.execution;
}

/** Runs the handler's side: answers 201 with `body`, stored before it is sent. */
async function answer(execution: Execution, body: string): Promise<void> {
  expect(execution.respond(201, [["content-type", "text/plain"]], body.length)).toBe("store-first");
  execution.write(Buffer.from(body));
  await execution.finish();
}

describe("the engine", () => {
  it("buffers the body only when a fingerprint or key needs it, and streams it only for the default fingerprint", () => {
    const cases = [
      [{}, true, true],
      [{ fingerprint: { body: false } }, false, false],
      [{ fingerprint: { body: false }, keyJson: "id" }, true, false],
      [{ keyJson: "id" }, true, false],
      [{ fingerprint: () => "f" }, true, false],
      [{ fingerprint: { body: false }, key: () => "k" }, true, false],
    ] as const;
    for (const [options, needs, streams] of cases) {
      const configured = createEngine({ store, ...options });
      expect([configured.needsBody("POST"), configured.streamsBody("POST")], JSON.stringify(options)).toEqual(
        [needs, streams],
      );
      // Methods it does not guard need nothing, whatever the case they come in.
      expect([configured.needsBody("GET"), configured.streamsBody("GET")]).toEqual([false, false]);
      expect([configured.guards("patch"), configured.guards("put")]).toEqual([true, false]);
    }
    expect(() =>
      createEngine({ store, fingerprint: () => "f" }).bodyHasher({ method: "POST", path: "/" }),
    ).toThrow(new TypeError("a fingerprint function needs the whole body"));
  });

  it("lets a request without a key header pass at once only when no key is required or taken from elsewhere", () => {
    expect(engine.passesForLackOfKey([])).toBe(true);
    expect(engine.passesForLackOfKey(["k1"])).toBe(false);
    expect(createEngine({ store, required: true }).passesForLackOfKey([])).toBe(false);
    expect(createEngine({ store, keyJson: "id" }).passesForLackOfKey([])).toBe(false);
  });

  it("passes a method it does not guard, even when asked to begin it", async () => {
    expect(await engine.begin({ ...upload(newKey(), "x", false), method: "GET" })).toEqual({
      action: "pass",
      reason: "method",
    });
  });

  it("answers 400 with plain problem headers to a missing required key, naming the header as it is usually written", async () => {
    const required = createEngine({ store, required: true, header: "x-request-id" });
    const decision = await required.begin({
      method: "POST",
      path: "/",
      header: () => [],
      body: Buffer.from(""),
    });
    expect(problemOf(decision)).toMatchObject({
      status: 400,
      headers: PROBLEM_HEADERS,
      body: {
        type: "https://oncely.dev/problems/key-required",
        detail: "send an idempotency key in the X-Request-Id header with this request",
      },
    });
  });

  it.each([
    [{ keyJson: "/meta/idempotency_key" }, "the JSON body field /meta/idempotency_key"],
    [{ key: () => undefined }, "the place this API expects it"],
  ])("names where the key goes when it is not taken from a header (%o)", async (keyOption, where) => {
    const required = createEngine({ store, required: true, ...keyOption });
    const decision = await required.begin({
      method: "POST",
      path: "/",
      header: () => [],
      body: Buffer.from("{}"),
    });
    expect(problemOf(decision)).toMatchObject({
      status: 400,
      body: { detail: `send an idempotency key in ${where} with this request` },
    });
  });

  it("answers 400 to a key callback that returns no string, and passes when it returns none", async () => {
    const keyed = (key: unknown) => createEngine({ store, key: () => key as string });
    const request = upload("ignored", "x", false);
    expect(problemOf(await keyed(42).begin(request))).toMatchObject({
      status: 400,
      headers: PROBLEM_HEADERS,
      body: { type: "https://oncely.dev/problems/invalid-key", detail: "the key must be a string" },
    });
    expect(await keyed(undefined).begin(request)).toEqual({ action: "pass", reason: "no-key" });
    expect((await keyed(newKey()).begin(request)).action).toBe("execute");
  });

  it("rejects when a scope callback returns no non-empty string", async () => {
    for (const scope of ["", 42, undefined]) {
      const scoped = createEngine({ store, scope: () => scope as string });
      await expect(scoped.begin(upload(newKey(), "x", false))).rejects.toThrow(
        new TypeError("options.scope must return a non-empty string"),
      );
    }
  });

  it("lets a waiting duplicate look again when the store reports a change, rather than polling", async () => {
    let claims = 0;
    const counting = withMethod(
      store,
      "claim",
      (real) =>
        (...args: Parameters<IdempotencyStore["claim"]>) => {
          claims += 1;
          return real(...args);
        },
    );
    const waiting = createEngine({ store: counting, wait: 10_000 });
    const key = newKey();
    const execution = executed(await waiting.begin(upload(key, "x", false)));
    const duplicate = waiting.begin(upload(key, "x", false));
    // Polling would have looked seven times by now (after 20, 40, 80, 160, 250 and 250 ms).
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await answer(execution, "done");
    expect(await duplicate).toMatchObject({ action: "replay" });
    // The original's claim, the duplicate's first, and one after the completion woke it.
    expect(claims).toBeLessThanOrEqual(4);
  });

  it("passes a request through when the store fails with onStoreError: open, and answers 503 when closed", async () => {
    const broken = failing(store, "claim", new Error("the store went away"));
    const open = createEngine({ store: broken, onStoreError: "open" });
    const key = newKey();
    expect(await open.begin(upload(key, "x", false))).toEqual({
      action: "pass",
      reason: "store-error",
      event: expect.objectContaining({ key }),
    });
    const closed = await createEngine({ store: broken, retryAfter: 4 }).begin(upload(newKey(), "x", false));
    expect(problemOf(closed)).toMatchObject({
      status: 503,
      headers: [...PROBLEM_HEADERS, ["retry-after", "4"]],
      body: {
        type: "https://oncely.dev/problems/store-unavailable",
        detail: "the idempotency store cannot be reached; retry later",
      },
    });
  });

  it("never replays a record it cannot decrypt: 500, and a DecryptionFailedError for onStoreError", async () => {
    const encrypting = await encryptStore(store, { keys: [{ id: "k1", key: new Uint8Array(32).fill(7) }] });
    const key = newKey();
    await answer(
      executed(await createEngine({ store: encrypting }).begin(upload(key, "x", false))),
      "secret",
    );
    const errors: StoreErrorEvent[] = [];
    const keyless = createEngine({ store, hooks: { onStoreError: (event) => void errors.push(event) } });
    const decision = await keyless.begin(upload(key, "x", false));
    expect(decision).toMatchObject({ action: "respond", response: { status: 500 }, reason: "store-error" });
    expect(problemOf(decision)).toMatchObject({
      body: { type: "https://oncely.dev/problems/record-unreadable" },
    });
    expect(errors).toEqual([expect.objectContaining({ key, operation: "claim", failedOpen: false })]);
    expect(errors[0]?.error).toBeInstanceOf(DecryptionFailedError);
    expect(errors[0]?.error).toMatchObject({
      key,
      message: `stored record for key "${key}" cannot be decrypted: it is encrypted and no encryption keys are configured`,
    });
  });

  describe("with a body that streams on while it is hashed", () => {
    it("claims before the body has ended, and stores the body's fingerprint with the response", async () => {
      const key = newKey();
      const original = upload(key, "a large upload", true);
      const execution = executed(await engine.begin(original));
      // Nothing to compare yet: the record holds the pending fingerprint.
      expect(await store.get({ scope: "anonymous", key })).toMatchObject({
        state: "in_flight",
        fingerprint: PENDING_FINGERPRINT,
      });
      expect(original.hashed()).toBe(0);
      // A duplicate meanwhile cannot tell whether it is the same request: 409, never 422.
      const duplicate = await engine.begin(upload(key, "another upload", false));
      expect(problemOf(duplicate)).toMatchObject({
        status: 409,
        headers: [...PROBLEM_HEADERS, ["retry-after", "1"]],
        body: { detail: "a request with this idempotency key is still being processed; retry later" },
      });

      await answer(execution, "stored");
      expect(original.hashed()).toBe(1);
      const whole = await engine.begin(upload(key, "a large upload", false));
      expect(whole.action).toBe("replay");
      const record = await store.get({ scope: "anonymous", key });
      expect(record?.fingerprint).not.toBe(PENDING_FINGERPRINT);
    });

    it("hashes a retry's body before answering it from the completed record: the same body replays, another gets 422", async () => {
      const key = newKey();
      await answer(executed(await engine.begin(upload(key, "a large upload", false))), "stored");

      const same = upload(key, "a large upload", true);
      const replayed = await engine.begin(same);
      expect(replayed).toMatchObject({ action: "replay", replay: { status: 201 } });
      expect(same.hashed()).toBe(1);

      const other = upload(key, "another large upload", true);
      const refused = await engine.begin(other);
      expect(problemOf(refused)).toMatchObject({
        status: 422,
        headers: PROBLEM_HEADERS,
        body: {
          type: "https://oncely.dev/problems/key-reused",
          detail: "this idempotency key was already used with a different request method, path or body",
        },
      });
      expect(other.hashed()).toBe(1);
    });

    it("answers 409, never 422, to a streamed duplicate of a request still in flight", async () => {
      const key = newKey();
      const execution = executed(await engine.begin(upload(key, "a large upload", false)));
      const duplicate = upload(key, "another large upload", true);
      expect(await engine.begin(duplicate)).toMatchObject({ action: "respond", response: { status: 409 } });
      expect(duplicate.hashed()).toBe(0);
      await execution.fail();
    });

    it("releases the key when the body breaks off, so that the retry executes", async () => {
      const key = newKey();
      const released: ReleasedEvent[] = [];
      const executions: boolean[] = [];
      const watched = createEngine({
        store,
        hooks: {
          onReleased: (event) => void released.push(event),
          onExecuted: (event) => void executions.push(event.stored),
        },
      });
      const broken = {
        ...upload(key, "", true),
        bodyFingerprint: () => Promise.reject(new Error("the client left mid-body")),
      };
      await answer(executed(await watched.begin(broken)), "never stored");
      expect(await store.get({ scope: "anonymous", key })).toBeUndefined();
      expect(released).toEqual([expect.objectContaining({ key, reason: "error", status: 201 })]);
      expect(executions).toEqual([false]);
      expect((await watched.begin(upload(key, "a large upload", false))).action).toBe("execute");
    });

    it("claims pending with a scope callback too, but computes a fingerprint callback's fingerprint at once", async () => {
      const scoped = createEngine({ store, scope: () => "tenant-streams" });
      const key = newKey();
      await scoped.begin(upload(key, "a large upload", true));
      expect(await store.get({ scope: "tenant-streams", key })).toMatchObject({
        fingerprint: PENDING_FINGERPRINT,
      });

      const fingerprinted = createEngine({ store, scope: () => "tenant-own-fp", fingerprint: () => "own" });
      const request = upload(key, "a large upload", true);
      await fingerprinted.begin(request);
      expect(await store.get({ scope: "tenant-own-fp", key })).toMatchObject({ fingerprint: "own" });
      expect(request.hashed()).toBe(0);
    });
  });
});
