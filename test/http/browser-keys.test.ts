// Keys as browsers send them (Firefox's `"<decimal 64-bit number>"`), and records scoped by a
// session cookie for sites that authenticate browsers with one (`scopeCookie`).
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine } from "../../src/core/engine.js";
import { InvalidOptionError } from "../../src/core/errors.js";
import type { InspectableStore } from "../../src/store.js";
import { createStore } from "../../src/stores/create-store.js";
import {
  type GatewayProcess,
  runCli,
  startGateway,
  startUpstream,
  type Upstream,
} from "../gateway/helpers.js";
import { guardedServer } from "../helpers/guarded.js";
import { type GuardedServer, send } from "../helpers/http.js";

/** A key as Firefox's `network.http.idempotencyKey.enabled` sends it: an sf-string of an unsigned 64-bit number. */
const firefoxKey = () => `"${BigInt.asUintN(64, BigInt(Math.floor(Math.random() * 2 ** 53)) << 11n)}"`;

describe("Firefox-style keys through `oncely serve`", () => {
  let upstream: Upstream;
  let gateway: GatewayProcess;
  beforeAll(async () => {
    upstream = await startUpstream();
    gateway = await startGateway(["--upstream", upstream.url, "--store", "memory:", "--log-level", "warn"]);
  });
  afterAll(async () => {
    await gateway?.stop("SIGKILL");
    await upstream?.close();
  });

  it("accepts a quoted decimal 64-bit number, and replays it", async () => {
    for (const key of ['"18446744073709551615"', '"0"', firefoxKey()]) {
      const before = upstream.count();
      const first = await send(`${gateway.url}/orders`, { headers: { "idempotency-key": key }, body: "a=1" });
      expect(first.status, key).toBe(201);
      const again = await send(`${gateway.url}/orders`, { headers: { "idempotency-key": key }, body: "a=1" });
      expect(again.headers.get("x-idempotency-replayed"), key).toBe("true");
      expect(again.text).toBe(first.text);
      expect(upstream.count()).toBe(before + 1);
    }
  });
});

describe("scopeCookie", () => {
  let store: InspectableStore;
  let server: GuardedServer;
  const key = '"12345678901234567890"';
  const post = (cookie?: string) =>
    send(server.url, { headers: { "idempotency-key": key, ...(cookie ? { cookie } : {}) }, body: "order" });

  beforeAll(async () => {
    store = (await createStore("memory:")) as InspectableStore;
    server = await guardedServer(store, { scopeCookie: "session" });
  });
  afterAll(async () => {
    await server?.close();
    await store?.close();
  });

  it("gives each session its own records; other cookies do not matter; no cookie falls back to the header", async () => {
    expect((await post("session=alice-secret; theme=dark")).headers.get("x-idempotency-replayed")).toBeNull();
    expect((await post("theme=light; session=alice-secret")).headers.get("x-idempotency-replayed")).toBe(
      "true",
    );
    expect(server.count()).toBe(1);
    // Another session, the same key and body: its own record, so it executes.
    expect((await post("session=bob-secret")).headers.get("x-idempotency-replayed")).toBeNull();
    // Cookie names are case-sensitive; without the cookie the anonymous scope applies.
    expect((await post("Session=alice-secret")).headers.get("x-idempotency-replayed")).toBeNull();
    expect((await post()).headers.get("x-idempotency-replayed")).toBe("true");
    expect(server.count()).toBe(3);
    const scopes = (await store.list()).records.map((record) => record.scope).sort();
    expect(scopes).toHaveLength(3);
    expect(scopes.filter((scope) => /^cookie:[\w-]{43}$/.test(scope))).toHaveLength(2);
    expect(scopes).toContain("anonymous");
    expect(JSON.stringify(scopes)).not.toContain("secret");
  });

  it("rejects a name that is no cookie name, in the library and on the command line", async () => {
    expect(() => createEngine({ store, scopeCookie: "my session" })).toThrow(InvalidOptionError);
    const run = await runCli(["serve", "--upstream", "http://127.0.0.1:9", "--scope-cookie", "a;b"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: invalid value for --scope-cookie: expected a cookie name/);
  });
});

describe("docs/semantics.md, Browsers", () => {
  const docs = readFileSync(new URL("../../docs/semantics.md", import.meta.url), "utf8");
  const section = docs.slice(docs.indexOf("## 15. Browsers"));

  it("its command scopes by the session cookie", async () => {
    const command = /^npx oncely serve (.*)$/m.exec(section)?.[1] ?? "";
    expect(command).toContain("--scope-cookie session");
    const upstream = await startUpstream();
    const args = command.replace("http://127.0.0.1:3000", upstream.url).split(" ");
    const gateway = await startGateway([...args, "--store", "memory:", "--log-level", "warn"]);
    try {
      const post = (cookie: string) =>
        send(`${gateway.url}/orders`, { headers: { "idempotency-key": '"42"', cookie }, body: "x" });
      await post("session=one");
      expect((await post("session=one")).headers.get("x-idempotency-replayed")).toBe("true");
      expect((await post("session=two")).headers.get("x-idempotency-replayed")).toBeNull();
      expect(upstream.count()).toBe(2);
    } finally {
      await gateway.stop("SIGKILL");
      await upstream.close();
    }
  });

  it("its library line is the option the engine takes", async () => {
    expect(section).toContain('app.use(idempotency({ store, scopeCookie: "session" }));');
    const store = await createStore("memory:");
    expect(createEngine({ store, scopeCookie: "session" }).options.scopeCookie).toBe("session");
    await store.close();
  });
});
