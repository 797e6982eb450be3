import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { newOwnerToken } from "../../src/core/owner-token.js";

/** A token issued by a fresh Node process. */
function tokenOfAnotherProcess(): string {
  return execFileSync(
    process.execPath,
    [
      "--import",
      "tsx",
      "-e",
      'import("./src/core/owner-token.ts").then((m) => process.stdout.write(m.newOwnerToken()))',
    ],
    { encoding: "utf8" },
  );
}

describe("newOwnerToken", () => {
  it("never issues the same token twice in a process", () => {
    const tokens = Array.from({ length: 100_000 }, () => newOwnerToken());
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it("issues tokens no other process issues, not even its first ones", () => {
    const [first, second] = [tokenOfAnotherProcess(), tokenOfAnotherProcess()];
    expect(first).not.toBe(second);
    const prefix = (token: string) => token.slice(0, token.lastIndexOf("."));
    expect(prefix(first)).not.toBe(prefix(newOwnerToken()));
    // 128 random bits, base64url.
    expect(prefix(first)).toMatch(/^[\w-]{22}$/);
  });
});
