import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);

describe("oncely/fetch and oncely/hono without Node built-ins", () => {
  it("guard, replay and refuse in a process where no node: module can load", async () => {
    const { stdout } = await run(process.execPath, [
      "--import",
      "./test/fixtures/no-node-builtins.mjs",
      "--import",
      "tsx",
      "test/fixtures/fetch-without-node.ts",
    ]);
    const seen = JSON.parse(stdout);
    expect(seen.first).toEqual({
      status: 201,
      replayed: null,
      type: "text/plain",
      body: "order for tea, execution 1",
    });
    expect(seen.replay).toEqual({ ...seen.first, replayed: "true" });
    expect(seen.mismatch.status).toBe(422);
    expect(seen.mismatch.type).toBe("application/problem+json");
    expect(seen.badKey.status).toBe(400);
    expect(seen.honoFirst).toMatchObject({ status: 201, replayed: null, body: '{"executions":2,"got":"x"}' });
    expect(seen.honoReplay).toEqual({ ...seen.honoFirst, replayed: "true" });
    expect(seen.executions).toBe(2);
    // The portable SHA-256 gives the digests Node's own crypto gives, so records stay
    // valid whichever runtime wrote them.
    const input = Buffer.concat([Buffer.from(`m:4:POSTp:3:/äb:`), Buffer.from("héllo")]);
    expect(seen.fingerprint).toBe(createHash("sha256").update(input).digest("base64url"));
  });

  it("the blocking really blocks: importing a built-in fails there", async () => {
    const attempt = run(process.execPath, [
      "--import",
      "./test/fixtures/no-node-builtins.mjs",
      "--input-type=module",
      "-e",
      'await import("node:crypto")',
    ]);
    await expect(attempt).rejects.toThrow(/blocked: .* imports the Node built-in "node:crypto"/);
  });
});
