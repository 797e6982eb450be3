import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PROBLEM_TYPE_BASE, PROBLEMS, problem } from "../../src/core/problems.js";

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
