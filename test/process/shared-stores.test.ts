import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { newKey, send } from "../helpers/http.js";
import { type Child, executions, startChild } from "../helpers/processes.js";
import { serviceUrl } from "../helpers/services.js";
import { temporaryDirectory } from "../helpers/stores.js";

const stores = [
  { name: "Redis", variable: "ONCELY_TEST_REDIS_URL" },
  { name: "Redis Cluster", variable: "ONCELY_TEST_REDIS_CLUSTER_URL" },
  { name: "PostgreSQL", variable: "ONCELY_TEST_POSTGRES_URL" },
].flatMap(({ name, variable }) => {
  // A missing server registers a skipped suite that says so (a failing one under ONCELY_REQUIRE_SERVICES=1).
  const url = serviceUrl(variable, `four processes sharing ${name}`);
  return url === undefined ? [] : [{ name, url }];
});

describe.each(stores)("four processes sharing $name", ({ url }) => {
  const children: Child[] = [];
  afterEach(async () => {
    await Promise.all(children.splice(0).map((child) => child.stop("SIGKILL")));
  });

  it("run the handler exactly once for 4 × 250 concurrent requests with one key", async () => {
    const dir = temporaryDirectory();
    const counter = join(dir, "count");
    // No `wait`: a thousand duplicates polling one key would measure the pool, not the rule.
    const args = [url, counter, "{}"];
    children.push(
      ...(await Promise.all([0, 1, 2, 3].map(() => startChild("test/fixtures/guarded-server.ts", args)))),
    );
    const key = newKey();
    const replies = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        send((children[i % 4] as Child).url, { headers: { "idempotency-key": key, "x-delay": "200" } }),
      ),
    );
    expect(executions(counter)).toBe(1);
    // Every duplicate is told "in progress" (409) or gets the one stored response.
    expect(replies.filter((reply) => reply.status !== 201 && reply.status !== 409)).toEqual([]);
    const answered = replies.filter((reply) => reply.status === 201);
    expect(new Set(answered.map((reply) => reply.text)).size).toBe(1);
    expect(answered.filter((reply) => reply.headers.get("x-idempotency-replayed") !== "true")).toHaveLength(
      1,
    );
  }, 90_000);
});
