// `npm run bench:journal`: the checkpoint journal of `oncely/client` against the naive
// alternative, a JSON file of every finished key rewritten (atomically) after each item.
// Measured in the same run, ROUNDS times interleaved, median reported with the ratio:
//   - recording one item when the checkpoint already holds 1,000 and 100,000 entries;
//   - resuming (loading) a checkpoint of 1,000,000 entries.
// Writes the table into docs/benchmarks.md between the journal markers.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openJournal } from "../src/client/journal.js";
import { HEADER } from "../src/client/journal-format.js";
import { writeBenchmarkSection } from "./report.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const RESUME_ENTRIES = 1_000_000;
const SIZES = [1_000, 100_000];
/** Items recorded per measurement: the journal's cost is flat, the JSON file's grows with its size. */
const JOURNAL_ITEMS = 50_000;
const JSON_ITEMS: Record<number, number> = { 1000: 2_000, 100000: 20 };

const key = () => `file_${randomBytes(32).toString("base64url")}`;
const keys = (count: number) => Array.from({ length: count }, key);
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const dir = mkdtempSync(join(tmpdir(), "oncely-bench-journal-"));

function timed(run: () => void): number {
  const start = performance.now();
  run();
  return performance.now() - start;
}

function journalFile(name: string, entries: readonly string[]): string {
  const path = join(dir, name);
  writeFileSync(path, HEADER + entries.map((entry) => `"${entry}"\n`).join(""));
  return path;
}

/** Items per second recorded by the journal (default fsync batching), closing included. */
async function journalRate(size: number): Promise<number> {
  const journal = openJournal(journalFile(`rate-${size}.journal`, keys(size)));
  const fresh = keys(JOURNAL_ITEMS);
  const start = performance.now();
  for (const entry of fresh) journal.add(entry);
  await journal.close();
  return JOURNAL_ITEMS / ((performance.now() - start) / 1000);
}

/** Items per second when the whole JSON checkpoint is rewritten (temp file + rename) after each item. */
function jsonRate(size: number): number {
  const path = join(dir, `rate-${size}.json`);
  const done = new Set(keys(size));
  const fresh = keys(JSON_ITEMS[size] as number);
  const elapsed = timed(() => {
    for (const entry of fresh) {
      done.add(entry);
      writeFileSync(`${path}.tmp`, JSON.stringify([...done]));
      renameSync(`${path}.tmp`, path);
    }
  });
  return fresh.length / (elapsed / 1000);
}

async function journalResume(path: string): Promise<number> {
  let journal: ReturnType<typeof openJournal> | undefined;
  const elapsed = timed(() => {
    journal = openJournal(path);
  });
  if (journal?.size !== RESUME_ENTRIES) throw new Error(`resumed ${journal?.size} entries`);
  await journal.close();
  return elapsed;
}

function jsonResume(path: string): number {
  let size = 0;
  const elapsed = timed(() => {
    size = new Set(JSON.parse(readFileSync(path, "utf8")) as string[]).size;
  });
  if (size !== RESUME_ENTRIES) throw new Error(`resumed ${size} entries`);
  return elapsed;
}

try {
  const resumeKeys = keys(RESUME_ENTRIES);
  const journalPath = journalFile("resume.journal", resumeKeys);
  const jsonPath = join(dir, "resume.json");
  writeFileSync(jsonPath, JSON.stringify(resumeKeys));

  const samples = {
    journalRate: new Map(SIZES.map((size) => [size, [] as number[]])),
    jsonRate: new Map(SIZES.map((size) => [size, [] as number[]])),
    journalResume: [] as number[],
    jsonResume: [] as number[],
  };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const size of SIZES) {
      const journal = await journalRate(size);
      const json = jsonRate(size);
      samples.journalRate.get(size)?.push(journal);
      samples.jsonRate.get(size)?.push(json);
      console.log(
        `round ${round}, ${size} entries: journal ${journal.toFixed(0)} items/s, JSON ${json.toFixed(1)} items/s`,
      );
    }
    const journal = await journalResume(journalPath);
    const json = jsonResume(jsonPath);
    samples.journalResume.push(journal);
    samples.jsonResume.push(json);
    console.log(
      `round ${round}, resume ${RESUME_ENTRIES}: journal ${journal.toFixed(0)} ms, JSON ${json.toFixed(0)} ms`,
    );
  }

  const rows = SIZES.map((size) => {
    const journal = median(samples.journalRate.get(size) ?? []);
    const json = median(samples.jsonRate.get(size) ?? []);
    return `| record one item, checkpoint of ${size.toLocaleString("en")} entries | ${journal.toFixed(0)} items/s | ${json.toFixed(1)} items/s | ${(journal / json).toFixed(0)}× |`;
  });
  const journalResumeMs = median(samples.journalResume);
  const jsonResumeMs = median(samples.jsonResume);
  rows.push(
    `| resume ${RESUME_ENTRIES.toLocaleString("en")} entries | ${journalResumeMs.toFixed(0)} ms | ${jsonResumeMs.toFixed(0)} ms | ${(jsonResumeMs / journalResumeMs).toFixed(1)}× |`,
  );
  const text = [
    `Checkpoint of \`oncely/client\`: the append-only journal (\`openJournal\`, default fsync batching: every 100 entries or 1 s, and at close) against a JSON array of every finished key rewritten after each item (temporary file + rename, no fsync — the cheapest crash-safe way to do it). Keys of 48 characters; median of ${ROUNDS} interleaved runs; Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.`,
    "",
    "| measurement | journal | JSON rewritten per item | journal advantage |",
    "| --- | ---: | ---: | ---: |",
    ...rows,
  ].join("\n");
  console.log(`\n${text}`);
  writeBenchmarkSection("journal", text);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
