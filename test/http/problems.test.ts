import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PROBLEM_TYPE_BASE, PROBLEMS, problem } from "../../src/core/problems.js";
import { createStore } from "../../src/index.js";
import { guardedServer } from "../helpers/guarded.js";
import { newKey, send } from "../helpers/http.js";

const docs = readFileSync(new URL("../../docs/problems.md", import.meta.url), "utf8");

describe("problem types", () => {
  it("documents every problem type with its status, and nothing else", () => {
    const documented = [
      ...docs.matchAll(/^\| `(https:\/\/oncely\.dev\/problems\/[a-z-]+)` \| (\d{3}) \|/gm),
    ].map((match) => [match[1], Number(match[2])]);
    const implemented = Object.entries(PROBLEMS).map(([slug, { status }]) => [
      `${PROBLEM_TYPE_BASE}${slug}`,
      status,
    ]);
    expect(documented.sort()).toEqual(implemented.sort());
  });

  it("builds RFC 9457 bodies that are never cached", () => {
    for (const slug of Object.keys(PROBLEMS) as Array<keyof typeof PROBLEMS>) {
      const response = problem(slug, "why", 3);
      expect(response.headers).toContainEqual(["content-type", "application/problem+json"]);
      expect(response.headers).toContainEqual(["cache-control", "no-store"]);
      expect(response.headers).toContainEqual(["retry-after", "3"]);
      expect(JSON.parse(response.body)).toEqual({
        type: `${PROBLEM_TYPE_BASE}${slug}`,
        title: PROBLEMS[slug].title,
        status: PROBLEMS[slug].status,
        detail: "why",
      });
    }
  });
});

describe("errorFormat in the library", () => {
  it("shapes the engine's own answers with a function of the problem, the status kept", async () => {
    const store = await createStore("memory:");
    const server = await guardedServer(store, {
      errorFormat: (details) => ({ failure: { reason: details.slug, status: details.status } }),
    });
    try {
      const key = newKey();
      await send(server.url, { headers: { "idempotency-key": key }, body: "a" });
      const reused = await send(server.url, { headers: { "idempotency-key": key }, body: "b" });
      expect(reused.status).toBe(422);
      expect(reused.headers.get("content-type")).toBe("application/json");
      expect(reused.json()).toEqual({ failure: { reason: "key-reused", status: 422 } });
      const invalid = await send(server.url, { headers: { "idempotency-key": "" }, body: "a" });
      expect(invalid.status).toBe(400);
      expect(invalid.json()).toEqual({ failure: { reason: "invalid-key", status: 400 } });
    } finally {
      await server.close();
      await store.close();
    }
  });
});
