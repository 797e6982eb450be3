// Every rule of the engine (issue 2), black-box through the real `oncely serve` process in
// front of a real upstream server, on every store (issue 16): memory and SQLite always,
// Redis and PostgreSQL when their test URLs are set (a missing server is reported as a
// skipped suite, or a failing one under ONCELY_REQUIRE_SERVICES=1). On each store three
// gateways differ by their settings; on a shared store they share its records (a fresh
// SQLite file, Redis key prefix or PostgreSQL table per run), so every test uses keys of
// its own.
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends } from "../helpers/backends.js";
import { newKey, type Reply, send } from "../helpers/http.js";
import {
  type GatewayProcess,
  rawRequest,
  readResponse,
  startGateway,
  startUpstream,
  type Upstream,
} from "./helpers.js";

const PROBLEMS = "https://oncely.dev/problems/";

function expectProblem(reply: Reply, status: number, slug: string): void {
  expect(reply.status).toBe(status);
  expect(reply.headers.get("content-type")).toBe("application/problem+json");
  expect(reply.headers.get("cache-control")).toBe("no-store");
  expect(reply.json()).toMatchObject({ type: `${PROBLEMS}${slug}`, status });
}

/** A fresh key that fits the tuned gateway's --max-key-length 8. */
const shortKey = () => newKey().slice(-8);

const sha = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

const SUBJECT = "every rule through the gateway";

// Not Redis Cluster: it runs the Redis store's scripts unchanged, and its own suites
// (redis-cluster, shared-stores) cover what a cluster changes.
const stores = backends({ subject: SUBJECT, only: ["redis", "postgres"] });

describe.each(stores)(`${SUBJECT} ($name)`, (backend) => {
  let upstream: Upstream;
  let plain: GatewayProcess;
  let tuned: GatewayProcess;
  let lenient: GatewayProcess;

  beforeAll(async () => {
    upstream = await startUpstream();
    // The memory store has no URL: each gateway then keeps records of its own.
    const store = backend.url ?? "memory:";
    const common = ["--upstream", upstream.url, "--store", store, "--log-level", "warn"];
    [plain, tuned, lenient] = await Promise.all([
      startGateway(common),
      startGateway([
        ...common,
        ...["--methods", "POST,PUT", "--header", "X-Request-Id", "--max-key-length", "8", "--required"],
        ...["--scope-header", "X-Tenant", "--replay-header", "X-Replayed", "--deny-headers", "x-upstream"],
        ...["--mismatch", "ignore", "--retry-after", "7", "--max-request-body-bytes", "1KiB"],
        ...["--max-upload-bytes", "1536"],
      ]),
      startGateway([
        ...common,
        ...["--wait", "5s", "--ttl", "1s", "--fingerprint", "method,path"],
        ...["--allow-headers", "content-type", "--max-body-bytes", "1KiB"],
      ]),
    ]);
  }, 30_000);

  afterAll(async () => {
    await Promise.all([plain, tuned, lenient].map((gateway) => gateway?.stop("SIGKILL")));
    await upstream?.close();
  });

  /** Runs `action` and returns how many times the upstream executed meanwhile. */
  async function executions(action: () => Promise<unknown>): Promise<number> {
    const before = upstream.count();
    await action();
    return upstream.count() - before;
  }

  describe("1. methods", () => {
    it("guards POST and PATCH; GET, PUT and DELETE pass through untouched", async () => {
      for (const method of ["POST", "PATCH"]) {
        const key = newKey();
        const ran = await executions(async () => {
          await send(plain.url, { method, headers: { "idempotency-key": key }, body: "x" });
          const replay = await send(plain.url, { method, headers: { "idempotency-key": key }, body: "x" });
          expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
        });
        expect(ran, method).toBe(1);
      }
      for (const method of ["GET", "PUT", "DELETE"]) {
        const key = newKey();
        const ran = await executions(async () => {
          for (let i = 0; i < 2; i++) {
            const reply = await send(`${plain.url}/items`, { method, headers: { "idempotency-key": key } });
            expect(reply.headers.get("x-idempotency-replayed")).toBeNull();
          }
        });
        expect(ran, method).toBe(2);
      }
    });

    it("guards the methods named by --methods", async () => {
      const put = shortKey();
      const post = shortKey();
      const headers = (key: string) => ({ "x-request-id": key, "x-tenant": "t1" });
      expect(await executions(() => send(tuned.url, { method: "PUT", headers: headers(put) }))).toBe(1);
      expect(await executions(() => send(tuned.url, { method: "PUT", headers: headers(put) }))).toBe(0);
      expect(await executions(() => send(tuned.url, { method: "PATCH", headers: headers(put) }))).toBe(1);
      await send(tuned.url, { headers: headers(post) });
      expect(await executions(() => send(tuned.url, { headers: headers(post) }))).toBe(0);
    });
  });

  describe("2. keys", () => {
    it('treats the bare and the sf-string form as one key: abc and "abc"', async () => {
      const key = newKey();
      const first = await send(plain.url, { headers: { "idempotency-key": key }, body: "b" });
      const second = await send(plain.url, { headers: { "idempotency-key": `"${key}"` }, body: "b" });
      expect(second.text).toBe(first.text);
      expect(second.headers.get("x-idempotency-replayed")).toBe("true");
    });

    it("answers 400 problem+json for a key that is too long, not printable, a list, or sent twice", async () => {
      expectProblem(
        await send(plain.url, { headers: { "idempotency-key": "k".repeat(129) } }),
        400,
        "invalid-key",
      );
      expectProblem(await send(plain.url, { headers: { "idempotency-key": "a, b" } }), 400, "invalid-key");
      expectProblem(await send(plain.url, { headers: { "idempotency-key": '""' } }), 400, "invalid-key");
      const twice = rawRequest(plain.url, { headers: ["Idempotency-Key", "a", "Idempotency-Key", "b"] });
      twice.end();
      const reply = await readResponse(twice);
      expect(reply.status).toBe(400);
      expect(JSON.parse(reply.body.toString()).type).toBe(`${PROBLEMS}invalid-key`);
    });

    it("reads the key from --header and limits its length with --max-key-length", async () => {
      expectProblem(
        await send(tuned.url, { headers: { "x-request-id": "123456789", "x-tenant": "t" } }),
        400,
        "invalid-key",
      );
      const key = shortKey();
      const first = await send(tuned.url, { headers: { "x-request-id": key, "x-tenant": newKey() } });
      expect(first.status).toBe(201);
    });

    it("passes the key header on to the upstream", async () => {
      const key = newKey();
      await send(plain.url, { headers: { "idempotency-key": key } });
      expect(upstream.seen.at(-1)?.headers["idempotency-key"]).toBe(key);
    });
  });

  describe("3. requests without a key", () => {
    it("pass through without deduplication by default", async () => {
      expect(await executions(() => Promise.all([send(plain.url, {}), send(plain.url, {})]))).toBe(2);
    });

    it("get 400 key-required with --required", async () => {
      expectProblem(await send(tuned.url, { headers: { "x-tenant": "t" } }), 400, "key-required");
    });
  });

  describe("4. scope", () => {
    it("keeps the records of two credentials apart, and one credential's retries together", async () => {
      const key = newKey();
      const ran = await executions(async () => {
        const alice = await send(plain.url, {
          headers: { "idempotency-key": key, authorization: "Bearer alice" },
        });
        const bob = await send(plain.url, {
          headers: { "idempotency-key": key, authorization: "Bearer bob" },
        });
        expect(bob.text).not.toBe(alice.text);
        const again = await send(plain.url, {
          headers: { "idempotency-key": key, authorization: "Bearer alice" },
        });
        expect(again.text).toBe(alice.text);
      });
      expect(ran).toBe(2);
    });

    it("puts requests without credentials in one shared anonymous scope", async () => {
      const key = newKey();
      expect(
        await executions(async () => {
          await send(plain.url, { headers: { "idempotency-key": key } });
          await send(plain.url, { headers: { "idempotency-key": key } });
        }),
      ).toBe(1);
    });

    it("scopes by --scope-header", async () => {
      const key = shortKey();
      const ran = await executions(async () => {
        await send(tuned.url, { headers: { "x-request-id": key, "x-tenant": "a" } });
        await send(tuned.url, { headers: { "x-request-id": key, "x-tenant": "b" } });
        await send(tuned.url, { headers: { "x-request-id": key, "x-tenant": "a" } });
      });
      expect(ran).toBe(2);
    });
  });

  describe("5. fingerprint", () => {
    it("answers 422 key-reused when the key comes back with another body, path or method", async () => {
      const key = newKey();
      await send(plain.url, { headers: { "idempotency-key": key }, body: "one" });
      expectProblem(
        await send(plain.url, { headers: { "idempotency-key": key }, body: "two" }),
        422,
        "key-reused",
      );
      expectProblem(
        await send(`${plain.url}/other`, { headers: { "idempotency-key": key }, body: "one" }),
        422,
        "key-reused",
      );
      expectProblem(
        await send(plain.url, { method: "PATCH", headers: { "idempotency-key": key }, body: "one" }),
        422,
        "key-reused",
      );
    });

    it("replays the original instead with --mismatch ignore", async () => {
      const key = shortKey();
      const headers = { "x-request-id": key, "x-tenant": newKey() };
      const first = await send(tuned.url, { headers, body: "one" });
      const other = await send(tuned.url, { headers, body: "two" });
      expect(other.text).toBe(first.text);
      expect(other.headers.get("x-replayed")).toBe("true");
    });

    it("leaves the body out of the fingerprint with --fingerprint method,path", async () => {
      const key = newKey();
      const first = await send(lenient.url, { headers: { "idempotency-key": key }, body: "one" });
      const other = await send(lenient.url, { headers: { "idempotency-key": key }, body: "two" });
      expect(other.status).toBe(201);
      expect(other.text).toBe(first.text);
    });
  });

  describe("6. concurrent duplicates", () => {
    it("answer 409 request-in-progress with Retry-After while the original runs", async () => {
      const key = newKey();
      const original = send(plain.url, { headers: { "idempotency-key": key, "x-delay": "800" } });
      await sleep(200);
      const duplicate = await send(plain.url, { headers: { "idempotency-key": key } });
      expectProblem(duplicate, 409, "request-in-progress");
      expect(duplicate.headers.get("retry-after")).toBe("1");
      expect((await original).status).toBe(201);
    });

    it("say Retry-After per --retry-after", async () => {
      const key = shortKey();
      const headers = { "x-request-id": key, "x-tenant": newKey() };
      const original = send(tuned.url, { headers: { ...headers, "x-delay": "800" } });
      await sleep(200);
      expect((await send(tuned.url, { headers })).headers.get("retry-after")).toBe("7");
      await original;
    });

    it("wait for the original and get its replay with --wait", async () => {
      const key = newKey();
      const ran = await executions(async () => {
        const original = send(lenient.url, { headers: { "idempotency-key": key, "x-delay": "800" } });
        await sleep(200);
        const duplicate = await send(lenient.url, { headers: { "idempotency-key": key } });
        expect(duplicate.status).toBe(201);
        expect(duplicate.text).toBe((await original).text);
        expect(duplicate.headers.get("x-idempotency-replayed")).toBe("true");
      });
      expect(ran).toBe(1);
    });
  });

  describe("7. replays", () => {
    it("return the status, headers and body bytes exactly, marked with X-Idempotency-Replayed", async () => {
      const key = newKey();
      const first = await send(plain.url, {
        headers: { "idempotency-key": key, "x-status": "202" },
        body: "payload",
      });
      const replay = await send(plain.url, {
        headers: { "idempotency-key": key, "x-status": "202" },
        body: "payload",
      });
      expect(first.headers.get("x-idempotency-replayed")).toBeNull();
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      expect(replay.status).toBe(202);
      expect(replay.body.equals(first.body)).toBe(true);
      expect(replay.headers.get("content-type")).toBe(first.headers.get("content-type"));
      expect(replay.headers.get("x-upstream")).toBe("yes");
      expect(replay.headers.get("date")).not.toBeNull();
    });

    it("never store or replay Set-Cookie", async () => {
      const key = newKey();
      const first = await send(plain.url, { headers: { "idempotency-key": key, "x-set-cookie": "1" } });
      expect(first.headers.getSetCookie()).toHaveLength(2);
      const replay = await send(plain.url, { headers: { "idempotency-key": key, "x-set-cookie": "1" } });
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      expect(replay.headers.getSetCookie()).toEqual([]);
    });

    it("use --replay-header and honour --deny-headers and --allow-headers", async () => {
      const key = shortKey();
      const headers = { "x-request-id": key, "x-tenant": newKey() };
      await send(tuned.url, { headers });
      const denied = await send(tuned.url, { headers });
      expect(denied.headers.get("x-replayed")).toBe("true");
      expect(denied.headers.get("x-idempotency-replayed")).toBeNull();
      expect(denied.headers.get("x-upstream")).toBeNull();
      expect(denied.headers.get("content-type")).toBe("application/json");

      const allowedKey = newKey();
      await send(lenient.url, { headers: { "idempotency-key": allowedKey } });
      const allowed = await send(lenient.url, { headers: { "idempotency-key": allowedKey } });
      expect(allowed.headers.get("content-type")).toBe("application/json");
      expect(allowed.headers.get("x-upstream")).toBeNull();
    });
  });

  describe("8. what is kept", () => {
    it("releases the key on a 5xx or a transient status, so the retry executes again", async () => {
      for (const status of ["500", "503", "429", "409"]) {
        const key = newKey();
        const ran = await executions(async () => {
          expect(
            (await send(plain.url, { headers: { "idempotency-key": key, "x-status": status } })).status,
          ).toBe(Number(status));
          const retry = await send(plain.url, { headers: { "idempotency-key": key } });
          expect(retry.status).toBe(201);
          expect(retry.headers.get("x-idempotency-replayed")).toBeNull();
        });
        expect(ran, status).toBe(2);
      }
    });

    it("keeps a 4xx such as 400 and replays it", async () => {
      const key = newKey();
      await send(plain.url, { headers: { "idempotency-key": key, "x-status": "400" } });
      const replay = await send(plain.url, { headers: { "idempotency-key": key } });
      expect(replay.status).toBe(400);
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
    });

    it("stores the response of a client that disconnected, so its retry is a replay", async () => {
      const key = newKey();
      const ran = await executions(async () => {
        const aborted = send(plain.url, {
          headers: { "idempotency-key": key, "x-delay": "700" },
          signal: AbortSignal.timeout(200),
        }).catch((error: Error) => error.name);
        expect(await aborted).toBe("TimeoutError");
        await sleep(900);
        const retry = await send(plain.url, { headers: { "idempotency-key": key } });
        expect(retry.status).toBe(201);
        expect(retry.headers.get("x-idempotency-replayed")).toBe("true");
      });
      expect(ran).toBe(1);
    });
  });

  describe("9. expiry", () => {
    it("executes an expired key anew (--ttl 1s)", async () => {
      const key = newKey();
      const ran = await executions(async () => {
        await send(lenient.url, { headers: { "idempotency-key": key } });
        expect(
          (await send(lenient.url, { headers: { "idempotency-key": key } })).headers.get(
            "x-idempotency-replayed",
          ),
        ).toBe("true");
        await sleep(1200);
        expect(
          (await send(lenient.url, { headers: { "idempotency-key": key } })).headers.get(
            "x-idempotency-replayed",
          ),
        ).toBeNull();
      });
      expect(ran).toBe(2);
    });
  });

  // 10 (leases after a crash, fencing) and 12 (store failures) have suites of their own:
  // processes.test.ts and store-failure.test.ts.

  describe("13. large and streamed responses", () => {
    it("streams a 50 MiB response through and replays it byte for byte", async () => {
      const key = newKey();
      const size = String(50 * 1024 * 1024);
      const first = await send(plain.url, { headers: { "idempotency-key": key, "x-size": size } });
      const replay = await send(plain.url, { headers: { "idempotency-key": key, "x-size": size } });
      expect(first.body.length).toBe(50 * 1024 * 1024);
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      expect(sha(replay.body)).toBe(sha(first.body));
    });

    it("delivers a response above --max-body-bytes but replays it without a body", async () => {
      const key = newKey();
      const ran = await executions(async () => {
        const first = await send(lenient.url, { headers: { "idempotency-key": key, "x-size": "4096" } });
        expect(first.body.length).toBe(4096);
        const replay = await send(lenient.url, { headers: { "idempotency-key": key, "x-size": "4096" } });
        expect(replay.status).toBe(201);
        expect(replay.headers.get("x-idempotency-body-omitted")).toBe("true");
        expect(replay.body.length).toBe(0);
      });
      expect(ran).toBe(1);
    });

    it("answers 413 request-too-large for a body above --max-upload-bytes (bodies above --max-request-body-bytes stream)", async () => {
      const headers = { "x-request-id": shortKey(), "x-tenant": "t" };
      expectProblem(await send(tuned.url, { headers, body: "x".repeat(2048) }), 413, "request-too-large");
    });
  });
});
