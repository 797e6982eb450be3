import { createHash } from "node:crypto";
import { statSync, utimesSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { contentKey, fileKey, objectKey, operationKey, randomKey } from "../../src/client/index.js";
import { validateKey } from "../../src/core/key.js";
import { temporaryDirectory } from "../helpers/stores.js";

/** What the server accepts by default: printable ASCII, at most 128 characters. */
const acceptable = (key: string) => validateKey(key, 128).ok;

describe("fileKey", () => {
  it("is stable for an unchanged file and the same however the path is written", async () => {
    const dir = temporaryDirectory();
    const file = join(dir, "photo.png");
    writeFileSync(file, "pixels");
    const key = await fileKey(file, "convert to jpg");
    expect(await fileKey(file, "convert to jpg")).toBe(key);
    expect(await fileKey(relative(process.cwd(), file), "convert to jpg")).toBe(key);
    expect(key).toMatch(/^file_[A-Za-z0-9_-]{43}$/);
    expect(acceptable(key)).toBe(true);
  });

  it("differs by operation, path, size and mtime (to the nanosecond where the file system keeps it)", async () => {
    const dir = temporaryDirectory();
    const file = join(dir, "photo.png");
    writeFileSync(file, "pixels");
    utimesSync(file, 1_700_000_000, 1_700_000_000);
    const original = await fileKey(file, "convert to jpg");
    expect(await fileKey(file, "convert to png")).not.toBe(original);

    const twin = join(dir, "twin.png");
    writeFileSync(twin, "pixels");
    utimesSync(twin, 1_700_000_000, 1_700_000_000);
    expect(await fileKey(twin, "convert to jpg")).not.toBe(original);

    utimesSync(file, 1_700_000_000, 1_700_000_000.5);
    const touched = await fileKey(file, "convert to jpg");
    expect(touched).not.toBe(original);

    writeFileSync(file, "pixels!");
    utimesSync(file, 1_700_000_000, 1_700_000_000.5);
    expect(await fileKey(file, "convert to jpg")).not.toBe(touched);
  });

  it("rejects with the file system error for a missing file", async () => {
    await expect(fileKey(join(temporaryDirectory(), "absent"), "op")).rejects.toMatchObject({
      code: "ENOENT",
    });
  });
});

describe("contentKey", () => {
  it("depends on the bytes and the operation only", () => {
    const key = contentKey("hello", "upload");
    expect(contentKey(new TextEncoder().encode("hello"), "upload")).toBe(key);
    expect(contentKey("hello!", "upload")).not.toBe(key);
    expect(contentKey("hello", "archive")).not.toBe(key);
    expect(key).toMatch(/^content_[A-Za-z0-9_-]{43}$/);
  });
});

describe("objectKey", () => {
  it("depends on bucket, key, version (or ETag) and operation", () => {
    const base = { bucket: "media", key: "a/b.png", versionId: "v1" };
    const key = objectKey(base, "thumbnail");
    expect(objectKey({ ...base }, "thumbnail")).toBe(key);
    expect(objectKey({ ...base, versionId: "v2" }, "thumbnail")).not.toBe(key);
    expect(objectKey({ ...base, bucket: "other" }, "thumbnail")).not.toBe(key);
    expect(objectKey({ ...base, key: "a/c.png" }, "thumbnail")).not.toBe(key);
    expect(objectKey(base, "resize")).not.toBe(key);
    expect(objectKey({ bucket: "media", key: "a/b.png", etag: '"abc"' }, "thumbnail")).toMatch(/^object_/);
    expect(acceptable(key)).toBe(true);
  });

  it("refuses an entry without a version id or ETag", () => {
    expect(() => objectKey({ bucket: "media", key: "a" }, "op")).toThrow(/versionId or etag/);
  });

  it("keeps parts apart: moving a separator between bucket and key changes the key", () => {
    expect(objectKey({ bucket: "a/b", key: "c", etag: "1" }, "op")).not.toBe(
      objectKey({ bucket: "a", key: "b/c", etag: "1" }, "op"),
    );
  });
});

describe("operationKey", () => {
  it("reads {action}_{entityId}_{timestamp}", () => {
    expect(operationKey("charge", "order-1842", new Date(1_735_689_600_000))).toBe(
      "charge_order-1842_1735689600000",
    );
    expect(operationKey("charge", "order-1842", 1_735_689_600_001)).toBe("charge_order-1842_1735689600001");
  });

  it("hashes a long entity id so that the key still fits 128 characters, and keeps it distinct", () => {
    const long = "x".repeat(500);
    const key = operationKey("a".repeat(48), long, Number.MAX_SAFE_INTEGER);
    expect(key.length).toBeLessThanOrEqual(128);
    expect(acceptable(key)).toBe(true);
    expect(operationKey("a".repeat(48), `${long}y`, Number.MAX_SAFE_INTEGER)).not.toBe(key);
  });

  it("keeps an entity id of 48 characters as it is, and accepts the epoch itself", () => {
    expect(operationKey("charge", "x".repeat(48), 0)).toBe(`charge_${"x".repeat(48)}_0`);
  });

  it("rejects an action with the separator, a non-printable entity or a bad timestamp", () => {
    expect(() => operationKey("charge", "1", -1)).toThrow(/timestamp/);
    expect(() => operationKey("charge_card", "1", 0)).toThrow(/action/);
    expect(() => operationKey("charge", "é", 0)).toThrow(/printable/);
    expect(() => operationKey("charge", "1", Number.NaN)).toThrow(/timestamp/);
    expect(() => operationKey("charge", "1", new Date("nonsense"))).toThrow(/timestamp/);
  });
});

// A client upgraded between two attempts must send the same key again, or the retry runs
// twice: the derived keys are the same in every release. Hence their exact inputs.
describe("derived keys across releases", () => {
  const sha256 = (input: string | Buffer) => createHash("sha256").update(input).digest("base64url");
  const digest = (parts: unknown[]) => sha256(JSON.stringify(parts));

  it("hashes the same parts in the same canonical JSON", async () => {
    expect(contentKey("hello", "upload")).toBe(`content_${digest(["content", sha256("hello"), "upload"])}`);
    expect(objectKey({ bucket: "b", key: "k", versionId: "v1" }, "thumb")).toBe(
      `object_${digest(["object", "b", "k", "v1", "thumb"])}`,
    );
    const long = "x".repeat(49);
    expect(operationKey("charge", long, 0)).toBe(`charge_h${digest(["entity", long])}_0`);

    const file = join(temporaryDirectory(), "photo.png");
    writeFileSync(file, "pixels");
    const info = statSync(file, { bigint: true });
    expect(await fileKey(file, "convert")).toBe(
      `file_${digest(["file", file, "convert", String(info.size), String(info.mtimeNs)])}`,
    );
  });
});

describe("randomKey", () => {
  it("is a UUID v4, different every time", () => {
    const keys = new Set(Array.from({ length: 1000 }, randomKey));
    expect(keys.size).toBe(1000);
    for (const key of keys)
      expect(key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
