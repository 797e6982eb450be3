import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  CheckpointClosedError,
  CorruptJournalError,
  memoryCheckpoint,
  openJournal,
} from "../../src/client/index.js";
import { HEADER } from "../../src/client/journal-format.js";
import { temporaryDirectory } from "../helpers/stores.js";
import { start } from "./processes.js";

const journalPath = () => join(temporaryDirectory(), "push.journal");
const lines = (path: string) => readFileSync(path, "utf8").split("\n").filter(Boolean);

describe("openJournal", () => {
  it("remembers completed keys across reopenings, one line per key", async () => {
    const path = join(temporaryDirectory(), "created", "on", "open.journal");
    const journal = openJournal(path);
    expect(journal.size).toBe(0);
    journal.add("a");
    journal.add("b");
    journal.add("a");
    journal.add('with "quotes" and \\ and é');
    expect(journal.has("a")).toBe(true);
    await journal.close();
    expect(lines(path)).toEqual([HEADER.trim(), '"a"', '"b"', JSON.stringify('with "quotes" and \\ and é')]);

    const again = openJournal(path);
    expect(again.size).toBe(3);
    expect(["a", "b", 'with "quotes" and \\ and é', "c"].map((key) => again.has(key))).toEqual([
      true,
      true,
      true,
      false,
    ]);
    await again.close();
  });

  it("forgets deleted keys, also after reopening, and can record them again", async () => {
    const path = journalPath();
    const journal = openJournal(path);
    for (const key of ["a", "b", "c"]) journal.add(key);
    journal.delete("b");
    journal.delete("never-added");
    expect(journal.size).toBe(2);
    await journal.close();

    const reopened = openJournal(path);
    expect([reopened.has("a"), reopened.has("b"), reopened.size]).toEqual([true, false, 2]);
    reopened.add("b");
    await reopened.close();
    const third = openJournal(path);
    expect([third.has("b"), third.size]).toEqual([true, 3]);
    await third.close();
  });

  it("drops a torn last line, cuts it from the file, and appends cleanly after it", async () => {
    const path = journalPath();
    const journal = openJournal(path);
    journal.add("complete");
    await journal.close();
    appendFileSync(path, '"torn-wri');

    const reopened = openJournal(path);
    expect(reopened.has("complete")).toBe(true);
    expect(reopened.size).toBe(1);
    reopened.add("next");
    await reopened.close();
    expect(lines(path)).toEqual([HEADER.trim(), '"complete"', '"next"']);
  });

  it("treats a file holding only part of the header as empty", async () => {
    const path = journalPath();
    writeFileSync(path, HEADER.slice(0, 10));
    const journal = openJournal(path);
    expect(journal.size).toBe(0);
    journal.add("x");
    await journal.close();
    expect(lines(path)).toEqual([HEADER.trim(), '"x"']);
  });

  it("refuses a damaged line before the end, and a file that is not a journal, without touching it", async () => {
    const damaged = journalPath();
    writeFileSync(damaged, `${HEADER}"a"\n{oops\n"b"\n`);
    expect(() => openJournal(damaged)).toThrow(CorruptJournalError);
    expect(() => openJournal(damaged)).toThrow(/push\.journal:3: unreadable line/);

    const foreign = join(temporaryDirectory(), "package.json");
    writeFileSync(foreign, '{"name":"x"}');
    expect(() => openJournal(foreign)).toThrow(/not a checkpoint journal/);
    expect(readFileSync(foreign, "utf8")).toBe('{"name":"x"}');
  });

  it("compacts on open when dead lines reach the threshold and outnumber live ones", async () => {
    const path = journalPath();
    const journal = openJournal(path);
    for (let i = 0; i < 30; i++) journal.add(`k${i}`);
    for (let i = 0; i < 20; i++) journal.delete(`k${i}`);
    await journal.close();
    expect(lines(path)).toHaveLength(1 + 30 + 20);

    // 40 dead lines against 10 live ones, but below the threshold: left as it is.
    await openJournal(path, { compactAfter: 41 }).close();
    expect(lines(path)).toHaveLength(51);

    const compacted = openJournal(path, { compactAfter: 40 });
    expect(lines(path)).toEqual([HEADER.trim(), ...Array.from({ length: 10 }, (_, i) => `"k${i + 20}"`)]);
    expect(compacted.size).toBe(10);
    expect(compacted.has("k25")).toBe(true);
    expect(compacted.has("k5")).toBe(false);
    compacted.add("after");
    await compacted.close();
    expect(openJournal(path).size).toBe(11);
    expect(existsSync(`${path}.compacting`)).toBe(false);
  });

  it("resumes 1,000,000 entries with every key present", async () => {
    const path = journalPath();
    const keys = Array.from({ length: 1_000_000 }, (_, i) => `file_${i.toString(36).padStart(43, "0")}`);
    writeFileSync(path, HEADER + keys.map((key) => `"${key}"\n`).join(""));
    const journal = openJournal(path);
    expect(journal.size).toBe(1_000_000);
    expect(keys.filter((_, i) => i % 9973 === 0).every((key) => journal.has(key))).toBe(true);
    expect(journal.has("file_absent")).toBe(false);
    await journal.close();
  }, 60_000);

  it("throws CheckpointClosedError after close", async () => {
    const journal = openJournal(journalPath());
    await journal.close();
    await journal.close();
    expect(() => journal.add("a")).toThrow(CheckpointClosedError);
    expect(() => journal.has("a")).toThrow(CheckpointClosedError);
  });

  it("validates its options", () => {
    expect(() => openJournal(journalPath(), { syncEvery: 0 })).toThrow(/syncEvery/);
    expect(() => openJournal(journalPath(), { syncInterval: -1 })).toThrow(/syncInterval/);
  });

  it("survives kill -9 of a process appending to it: every key it had written is there, in order", async () => {
    const dir = temporaryDirectory();
    const path = join(dir, "crash.journal");
    const writer = start("test/fixtures/journal-writer.ts", [path], dir);
    await writer.waitForOutput(/written 20000\n/);
    writer.process.kill("SIGKILL");
    await writer.exited;
    const acknowledged = Math.max(
      ...[...writer.stdout().matchAll(/written (\d+)/g)].map((match) => Number(match[1])),
    );

    const journal = openJournal(path);
    expect(journal.size).toBeGreaterThanOrEqual(acknowledged);
    for (let i = 0; i < journal.size; i++) expect(journal.has(`k${i}`)).toBe(true);
    expect(journal.has(`k${journal.size}`)).toBe(false);
    await journal.close();
  });
});

describe("memoryCheckpoint", () => {
  it("holds keys in memory, starting from the ones given", async () => {
    const checkpoint = memoryCheckpoint(["a"]);
    checkpoint.add("b");
    checkpoint.delete("a");
    expect([checkpoint.has("a"), checkpoint.has("b"), checkpoint.size]).toEqual([false, true, 1]);
    await checkpoint.flush();
    await checkpoint.close();
    expect(() => checkpoint.has("b")).toThrow(CheckpointClosedError);
  });
});
