import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { StoreUnavailableError } from "../../src/core/errors.js";
import type { IdempotencyStore } from "../../src/store.js";
import { createRedisStore, redisStoreFromUrl } from "../../src/stores/redis/index.js";
import { serviceUrl, unavailable } from "../helpers/services.js";

// The outage tests run their own redis-server, so that they can stop it; they run
// wherever the Redis tests run.
const subject = "Redis store outages";
let enabled = serviceUrl("ONCELY_TEST_REDIS_URL", subject) !== undefined;
if (enabled && spawnSync("redis-server", ["--version"]).status !== 0) {
  unavailable(subject, "redis-server is not on PATH");
  enabled = false;
}

if (enabled) {
  const dir = mkdtempSync(join(tmpdir(), "oncely-redis-outage-"));
  const servers = new Set<ChildProcess>();
  afterAll(() => {
    for (const server of servers) server.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts redis-server on loopback and resolves once it accepts connections. */
  async function startServer(port: number): Promise<ChildProcess> {
    const server = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    servers.add(server);
    server.once("exit", () => servers.delete(server));
    let output = "";
    server.stdout?.setEncoding("utf8");
    for await (const chunk of server.stdout ?? []) {
      output += chunk;
      if (output.includes("Ready to accept connections")) return server;
    }
    throw new Error(`redis-server on port ${port} exited before it was ready:\n${output}`);
  }

  async function kill(server: ChildProcess): Promise<void> {
    const exited = once(server, "exit");
    server.kill("SIGKILL");
    await exited;
  }

  async function freePort(): Promise<number> {
    const probe = createServer().listen(0, "127.0.0.1");
    await once(probe, "listening");
    const { port } = probe.address() as AddressInfo;
    probe.close();
    await once(probe, "close");
    return port;
  }

  /** How a call settled and how long it took. */
  async function timed(call: unknown): Promise<{ error: unknown; ms: number }> {
    const started = performance.now();
    const error = await Promise.resolve(call).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    return { error, ms: performance.now() - started };
  }

  const claimInput = () => ({
    scope: "s",
    key: randomUUID(),
    fingerprint: "fp",
    token: randomUUID(),
    leaseMs: 60_000,
  });

  describe(subject, () => {
    it("fails fast while Redis is down and recovers by itself when it is back", async () => {
      const port = await freePort();
      let server = await startServer(port);
      const store: IdempotencyStore = await redisStoreFromUrl(`redis://127.0.0.1:${port}`);
      try {
        expect((await store.claim(claimInput())).outcome).toBe("acquired");
        await kill(server);

        const ref = { scope: "s", key: "k" };
        const calls = {
          claim: store.claim(claimInput()),
          get: store.get(ref),
          readChunk: store.readChunk(ref, 0),
          release: store.release({ ...ref, token: "t" }),
        };
        for (const [name, call] of Object.entries(calls)) {
          const { error, ms } = await timed(call);
          expect(error, name).toBeInstanceOf(StoreUnavailableError);
          expect((error as Error).cause, name).toBeInstanceOf(Error);
          expect((error as Error).message, name).toMatch(/^Redis store \w+ failed: /);
          expect(ms, name).toBeLessThan(2_500);
        }

        server = await startServer(port);
        const deadline = Date.now() + 15_000;
        let outcome: string | undefined;
        while (outcome === undefined && Date.now() < deadline) {
          outcome = await Promise.resolve(store.claim(claimInput())).then(
            (result) => result.outcome,
            () => sleep(100).then(() => undefined),
          );
        }
        expect(outcome).toBe("acquired");
      } finally {
        await store.close();
        await kill(server);
      }
    });

    it("times out calls to a server that stopped answering, then carries on", async () => {
      const port = await freePort();
      const server = await startServer(port);
      const store = await createRedisStore({ url: `redis://127.0.0.1:${port}`, timeout: 500 });
      try {
        const ref = { scope: "s", key: "k" };
        expect(await store.get(ref)).toBeUndefined();
        server.kill("SIGSTOP");
        const { error, ms } = await timed(store.get(ref));
        server.kill("SIGCONT");
        expect(error).toBeInstanceOf(StoreUnavailableError);
        expect(ms).toBeGreaterThanOrEqual(450);
        expect(ms).toBeLessThan(1_500);
        expect(await store.get(ref)).toBeUndefined();
      } finally {
        await store.close();
        await kill(server);
      }
    });

    it("rejects creation with StoreUnavailableError when nothing listens", async () => {
      const port = await freePort();
      const { error, ms } = await timed(createRedisStore({ url: `redis://:s3cret@127.0.0.1:${port}` }));
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect(String((error as Error).message)).not.toContain("s3cret");
      expect(ms).toBeLessThan(2_500);
    });
  });
}
