// Store URLs in the gateway's log lines: one redactor hides every password.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCli, startUpstream, type Upstream } from "./helpers.js";

let upstream: Upstream;
beforeAll(async () => {
  upstream = await startUpstream();
});
afterAll(() => upstream?.close());

describe("the listening line of oncely serve", () => {
  it.each([
    // pg honours a password in the query string as well as in the user information.
    [
      "postgres://postgres@127.0.0.1:5432/test?password=s3cret",
      "postgres://postgres@127.0.0.1:5432/test?password=***",
    ],
    ["postgres://postgres:s3cret@127.0.0.1:5432/test", "postgres://postgres:***@127.0.0.1:5432/test"],
    // No password: nothing is made up.
    [
      "postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
      "postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
    ],
  ])("shows --store %s as %s", async (store, shown) => {
    // The PostgreSQL store sends nothing before its first call, so no server is needed here.
    const gateway = await startCli(
      ["serve", "--port", "0", "--upstream", upstream.url, "--store", store],
      "listening",
    );
    try {
      const line = JSON.parse(gateway.output().split("\n")[0] ?? "") as { store: string };
      expect(line.store).toBe(shown);
      expect(gateway.output()).not.toContain("s3cret");
    } finally {
      await gateway.stop();
    }
  });
});
