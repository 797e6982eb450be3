import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InvalidStoreUrlError } from "../../src/core/errors.js";
import type { IdempotencyStore } from "../../src/store.js";
import { createStore } from "../../src/stores/create-store.js";
import { MemoryStore } from "../../src/stores/memory/index.js";
import { SqliteStore } from "../../src/stores/sqlite/index.js";

const dir = mkdtempSync(join(tmpdir(), "oncely-create-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("createStore", () => {
  it("makes a memory store of memory:", async () => {
    const store = await createStore("memory:");
    expect(store).toBeInstanceOf(MemoryStore);
    await expectWorking(store);
  });

  it("makes a SQLite store of sqlite:PATH", async () => {
    const path = join(dir, `${randomUUID()}.db`);
    const store = await createStore(`sqlite:${path}`);
    expect(store).toBeInstanceOf(SqliteStore);
    await expectWorking(store);
    expect(existsSync(path)).toBe(true);
  });

  it.each([
    "",
    "   ",
    "ftp://x",
    "ftp://admin:hunter2@example.com/x",
    "memory:x",
    "memory://admin:hunter2@example.com",
    "sqlite://admin:hunter2@example.com/oncely.db",
  ])("rejects %j without revealing a password", async (url) => {
    const error = await createStore(url).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(InvalidStoreUrlError);
    expect((error as Error).message).not.toContain("hunter2");
  });
});

/** Claims a key and closes the store. */
async function expectWorking(store: IdempotencyStore): Promise<void> {
  try {
    const claim = await store.claim({ scope: "s", key: "k", fingerprint: "f", token: "t", leaseMs: 60_000 });
    expect(claim.outcome).toBe("acquired");
  } finally {
    await store.close();
  }
}
