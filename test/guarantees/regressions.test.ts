// Rules that a planted single-point bug once broke without any test failing (issue 18). Each
// test here fails with that bug put back; the commit that added it names the bug.
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { idempotency } from "../../src/adapters/express/index.js";
import { openJournal } from "../../src/client/index.js";
import { HEADER } from "../../src/client/journal-format.js";
import { githubDeliveryId, webhookDedupe, withWebhookDedupe } from "../../src/events/index.js";
import { createStore } from "../../src/index.js";
import type { IdempotencyStore } from "../../src/store.js";
import { freshScope, serveFetch } from "../events/support.js";
import { listen, newKey, send, type TestServer } from "../helpers/http.js";
import { unavailable } from "../helpers/services.js";
import { temporaryDirectory } from "../helpers/stores.js";

let store: IdempotencyStore;
beforeAll(async () => {
  store = await createStore("memory:");
});
afterAll(() => store.close());

describe("checkpoint journal", () => {
  it("drops a torn last line even when it happens to be complete JSON", async () => {
    const path = join(temporaryDirectory(), "torn.journal");
    const journal = openJournal(path);
    journal.add("complete");
    await journal.close();
    // A crash cut the write of `"torn"\n` just before its newline.
    appendFileSync(path, '"torn"');

    const reopened = openJournal(path);
    expect(reopened.has("torn")).toBe(false);
    expect(reopened.size).toBe(1);
    reopened.add("next");
    await reopened.close();
    expect(readFileSync(path, "utf8")).toBe(`${HEADER}"complete"\n"next"\n`);
  });

  const strace = spawnSync("strace", ["-V"]).status === 0;
  if (!strace) unavailable("journal fsync on close", "strace is not on PATH");
  else
    it("fsyncs on close what it had not synced yet, before closing the file", async () => {
      const dir = temporaryDirectory();
      const path = join(dir, "close.journal");
      const trace = join(dir, "strace.txt");
      // -y prints the path of every file descriptor; -f follows libuv's threads.
      const child = spawn(
        "strace",
        ["-f", "-y", "-e", "trace=write,fsync,fdatasync,close", "-o", trace, process.execPath].concat([
          "--import",
          "tsx",
          "test/fixtures/journal-close.ts",
          path,
        ]),
        { stdio: "inherit" },
      );
      const [code] = (await once(child, "exit")) as [number | null];
      expect(code).toBe(0);
      // The journal's own calls, in order (the compaction temp file is another path).
      const calls = readFileSync(trace, "utf8")
        .split("\n")
        .filter((line) => line.includes(`<${path}>`))
        .map((line) => /(\w+)\(\d+</.exec(line)?.[1]);
      expect(calls.filter((call) => call === "write")).toHaveLength(3);
      const lastWrite = calls.lastIndexOf("write");
      const close = calls.lastIndexOf("close");
      expect(close).toBeGreaterThan(lastWrite);
      expect(calls.slice(lastWrite, close)).toContain("fsync");
    }, 60_000);
});

/** A webhook route that answers the status named by `x-status`, and counts its runs. */
type Route = (status: string | null) => number;

describe.each([
  {
    name: "webhookDedupe (Express)",
    serve: (route: Route) => {
      const app = express();
      const dedupe = webhookDedupe({ store, scope: freshScope(), eventId: githubDeliveryId });
      app.post("/", dedupe, (req, res) => {
        res.sendStatus(route(req.get("x-status") ?? null));
      });
      return listen(app);
    },
  },
  {
    name: "withWebhookDedupe (fetch)",
    serve: (route: Route) =>
      serveFetch(
        withWebhookDedupe(
          async (request) => new Response(null, { status: route(request.headers.get("x-status")) }),
          { store, scope: freshScope(), eventId: githubDeliveryId },
        ),
      ),
  },
])("$name", ({ serve }) => {
  it("records no 4xx answer: the redelivery runs the route again", async () => {
    const runs: number[] = [];
    const server: TestServer = await serve((status) => {
      runs.push(Number(status));
      return Number(status);
    });
    try {
      const id = newKey();
      const deliver = (status: number) =>
        send(server.url, { headers: { "x-github-delivery": id, "x-status": String(status) }, body: "{}" });
      for (const status of [400, 404, 422, 499]) expect((await deliver(status)).status).toBe(status);
      expect((await deliver(202)).status).toBe(202);
      // Only the 2xx answer was recorded: now the event is a duplicate.
      expect((await deliver(202)).status).toBe(200);
      expect(runs).toEqual([400, 404, 422, 499, 202]);
    } finally {
      await server.close();
    }
  });
});

describe("Express adapter mounted inside routers", () => {
  it("fingerprints the full path (originalUrl), not the path inside the router", async () => {
    const app = express();
    let executions = 0;
    for (const version of ["v1", "v2"]) {
      const router = express.Router();
      router.use(idempotency({ store }));
      router.post("/items", (_req, res) => {
        executions++;
        res.status(201).send(`${version} item ${executions}`);
      });
      app.use(`/${version}`, router);
    }
    const server = await listen(app);
    try {
      const key = newKey();
      const post = (version: string) =>
        send(`${server.url}/${version}/items`, { headers: { "idempotency-key": key } });
      expect((await post("v1")).text).toBe("v1 item 1");
      // Inside each router the path is /items: only the full path tells the two requests apart.
      const other = await post("v2");
      expect(other.status).toBe(422);
      expect(other.json()).toMatchObject({ type: "https://oncely.dev/problems/key-reused" });
      expect((await post("v1")).headers.get("x-idempotency-replayed")).toBe("true");
      expect(executions).toBe(1);
    } finally {
      await server.close();
    }
  });
});

describe("the tests' temporary directories", () => {
  it.each(["forks", "threads"])(
    "are removed when a test file ends in a Vitest %s worker",
    async (pool) => {
      const output = join(temporaryDirectory(), "created.txt");
      const child = spawn(
        process.execPath,
        [
          "node_modules/vitest/vitest.mjs",
          "run",
          "--config",
          "test/fixtures/temporary-directories/vitest.config.ts",
        ].concat(["--pool", pool, "--reporter", "dot"]),
        { env: { ...process.env, ONCELY_PROBE_OUTPUT: output }, stdio: "inherit" },
      );
      const [code] = (await once(child, "exit")) as [number | null];
      expect(code).toBe(0);
      const created = readFileSync(output, "utf8").split("\n").filter(Boolean);
      expect(created).toHaveLength(3);
      expect(created.filter((dir) => existsSync(dir))).toEqual([]);
    },
    60_000,
  );
});
